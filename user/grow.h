/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Growing arrays, for every module that keeps one. */
#ifndef DEVLEDGER_GROW_H
#define DEVLEDGER_GROW_H

#include <stddef.h>

/*
 * Make *array (of *capacity elements of elem bytes) hold at least need:
 * the capacity doubles from 4, new elements are zeroed. 0, or -ENOMEM (also
 * for a size past SIZE_MAX), leaving the array as it was.
 */
int grow_array(void **array, size_t *capacity, size_t elem, size_t need);

#endif /* DEVLEDGER_GROW_H */
