/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "uprobemulti.h"

#define UPROBE_MULTI_RETURN 1u /* BPF_F_UPROBE_MULTI_RETURN */

/*
 * The BPF_LINK_CREATE part of union bpf_attr for uprobe_multi, as the
 * kernel's UAPI lays it out (stable since 6.6): four words, then the
 * attach-type specific union, 8-byte aligned.
 */
struct link_create_uprobe_multi {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__aligned_u64 path;
	__aligned_u64 offsets;
	__aligned_u64 ref_ctr_offsets;
	__aligned_u64 cookies;
	__u32 cnt;
	__u32 uprobe_flags;
	__u32 pid;
	__u32 pad;
};

_Static_assert(sizeof(struct link_create_uprobe_multi) <= sizeof(union bpf_attr),
	       "fits in bpf_attr");

int uprobe_multi__attach(int prog_fd, const char *path, const uint64_t *offsets,
			 const uint64_t *cookies, size_t count, bool retprobe, pid_t pid)
{
	union bpf_attr attr;
	struct link_create_uprobe_multi *link = (struct link_create_uprobe_multi *)&attr;
	long fd;

	if (!count || count > UINT32_MAX)
		return -EINVAL;
	memset(&attr, 0, sizeof(attr));
	link->prog_fd = (__u32)prog_fd;
	link->attach_type = UPROBE_MULTI_ATTACH_TYPE;
	link->path = (__u64)(uintptr_t)path;
	link->offsets = (__u64)(uintptr_t)offsets;
	link->cookies = (__u64)(uintptr_t)cookies;
	link->cnt = (__u32)count;
	link->uprobe_flags = retprobe ? UPROBE_MULTI_RETURN : 0;
	link->pid = pid > 0 ? (__u32)pid : 0;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : (int)fd;
}
