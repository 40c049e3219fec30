/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The floor of a probe hit: a BPF program that does nothing. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("uprobe")
int empty(void *ctx)
{
	return 0;
}
