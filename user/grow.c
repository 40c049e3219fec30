/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

int grow_array(void **array, size_t *capacity, size_t elem, size_t need)
{
	size_t cap = *capacity ? *capacity : 4;
	void *bigger;

	if (need <= *capacity)
		return 0;
	while (cap < need) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	if (elem && cap > SIZE_MAX / elem)
		return -ENOMEM;
	bigger = realloc(*array, cap * elem);
	if (!bigger)
		return -ENOMEM;
	memset((char *)bigger + *capacity * elem, 0, (cap - *capacity) * elem);
	*array = bigger;
	*capacity = cap;
	return 0;
}
