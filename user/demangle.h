/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* C++ names for people: tt::tt_metal::Buffer::allocate_impl() for _ZN2tt8tt_metal6Buffer13allocate_implEv. */
#ifndef DEVLEDGER_DEMANGLE_H
#define DEVLEDGER_DEMANGLE_H

#include <stddef.h>

/* The demangled name in buf (len bytes), or the name itself when it is not a C++ name. */
const char *demangle(const char *name, char *buf, size_t len);

#endif /* DEVLEDGER_DEMANGLE_H */
