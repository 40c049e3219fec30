/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Uprobes on libtt_metal.so: report what the runtime allocated and released,
 * as fixed-size records in one ring buffer. Which registers and fields each
 * probe reads is data from user space (the probe specs); no interpretation
 * happens here: the ledger in user space decides what every record means.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "devledger.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Filled in by user space before load; zero means off. */
const volatile __u32 filter_pids = 0;	  /* only tgids in `tracked` */
const volatile __u32 follow_children = 0; /* a tracked process's new children are tracked */

/*
 * Where a device's id is: Device::id_ for a chip, MeshDevice::mesh_id_ for
 * a mesh (DL_OFFSET_UNKNOWN: the ledger numbers meshes itself). The rest of
 * every layout is in the probe specs.
 */
const volatile __u32 device_off_id = 8;
const volatile __u32 mesh_off_id = DL_OFFSET_UNKNOWN;

/* One read covers a device's vptr and, at the usual offset 8, Device::id_. */
#define DEVICE_HEAD_BYTES 16

struct dl_bpf_stats stats = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by user space */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} tracked SEC(".maps");

/* What each probe reports, by the spec index in its cookie; frozen once filled. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DL_MAX_SPECS);
	__type(key, __u32);
	__type(value, struct dl_probe_spec);
} specs SEC(".maps");

/* Per library traced, by the library index in each cookie. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DL_MAX_LIBRARIES);
	__type(key, __u32);
	__type(value, struct dl_library);
} libraries SEC(".maps");

/* Per thread: the object a probed call's entry kept for its return (DL_ACTION_SAVE_OBJECT). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, __u64);
} saved_objects SEC(".maps");

/* Per thread: the program whose CBs are being laid out. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, __u64);
} current_program SEC(".maps");

static __always_inline bool wanted(__u32 tgid)
{
	__u8 one = 1;

	if (bpf_map_lookup_elem(&tracked, &tgid))
		return true;
	if (filter_pids)
		return false;
	/* System-wide: remember the process so that its exit is reported. */
	if (bpf_map_update_elem(&tracked, &tgid, &one, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&tracked, &tgid))
		__sync_fetch_and_add(&stats.map_full, 1);
	return true;
}

/*
 * Records go out without waking the consumer, which also drains on a timer:
 * a wake-up per record nearly doubles what a probe hit costs. Only when the
 * ring is a quarter full is the consumer woken at once.
 */
static __always_inline __u64 submit_flags(void)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);

	return avail > size / 4 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void read_failed(void)
{
	__sync_fetch_and_add(&stats.read_failed, 1);
}

/*
 * The probed function's arguments (x86-64 SysV; `this` is the first), copied
 * once: the verifier takes no computed offset into the registers.
 */
#define ARGS 6

struct args {
	__u64 value[ARGS];
};

static __always_inline void read_args(struct pt_regs *ctx, struct args *args)
{
	args->value[0] = PT_REGS_PARM1(ctx);
	args->value[1] = PT_REGS_PARM2(ctx);
	args->value[2] = PT_REGS_PARM3(ctx);
	args->value[3] = PT_REGS_PARM4(ctx);
	args->value[4] = PT_REGS_PARM5(ctx);
	args->value[5] = ctx->r9;
}

static __always_inline __u64 argument(const struct args *args, __u8 n)
{
	return n < ARGS ? args->value[n] : 0;
}

/* One value as its spec says; the bounds keep every access inside raw[] for the verifier. */
static __always_inline __u64 value_of(const struct args *args, const struct dl_value *v,
				      const __u8 *raw, __u64 program)
{
	__u32 off = v->offset;

	switch (v->source) {
	case DL_SRC_ARG:
		return argument(args, v->arg);
	case DL_SRC_PROGRAM:
		return program;
	case DL_SRC_CONST:
		return off;
	case DL_SRC_OBJECT:
		/*
		 * A field's offset is known only at run time: copied byte by byte,
		 * as the verifier takes no misaligned read of the stack.
		 */
		if (v->size == 8 && off <= DL_OBJECT_MAX - 8) {
			__u64 value;

			__builtin_memcpy(&value, raw + off, sizeof(value));
			return value;
		}
		if (v->size == 4 && off <= DL_OBJECT_MAX - 4) {
			__u32 value;

			__builtin_memcpy(&value, raw + off, sizeof(value));
			return value;
		}
		if (v->size == 1 && off <= DL_OBJECT_MAX - 1)
			return raw[off];
	}
	return 0;
}

/* A device as a record names it. */
struct device_ref {
	__u64 pointer;
	__s32 id;
	__u8 kind;
};

/*
 * Chip or mesh, by the object's vtable: the library's load bias is where
 * this probe fires (the instruction pointer) less where its site is in the
 * file (the cookie). Then the chip's Device::id_, or the mesh's id when
 * its offset is known.
 */
static __always_inline int read_device(struct pt_regs *ctx, __u64 cookie, const void *device,
				       struct device_ref *ref)
{
	__u32 library = (cookie >> DL_COOKIE_LIBRARY_SHIFT) & 0xff;
	struct dl_library *lib = bpf_map_lookup_elem(&libraries, &library);
	__u8 head[DEVICE_HEAD_BYTES];
	__u32 off;

	if (bpf_probe_read_user(head, sizeof(head), device)) {
		read_failed();
		return -1;
	}
	ref->pointer = (__u64)device;
	ref->kind = DL_DEVICE_CHIP;
	if (lib && lib->mesh_vtable &&
	    *(__u64 *)head ==
		    PT_REGS_IP(ctx) - (cookie & DL_COOKIE_VADDR_MASK) + lib->mesh_vtable + 16)
		ref->kind = DL_DEVICE_MESH;
	off = ref->kind == DL_DEVICE_MESH ? mesh_off_id : device_off_id;
	ref->id = -1;
	if (off == DL_OFFSET_UNKNOWN)
		return 0;
	if (off <= DEVICE_HEAD_BYTES - 4) {
		ref->id = *(__s32 *)(head + off);
		return 0;
	}
	if (bpf_probe_read_user(&ref->id, sizeof(ref->id), device + off)) {
		read_failed();
		return -1;
	}
	return 0;
}

/*
 * The probe's object: an argument (or what the call's entry kept), followed
 * through its pointers, then read once. 1: no object (a return whose entry
 * came before devledger attached).
 */
static __always_inline int read_object(const struct args *args, const struct dl_probe_spec *spec,
				       __u64 id, __u8 *raw)
{
	const void *base = (const void *)argument(args, spec->object_arg);
	__u32 bytes = spec->object_bytes;

	if (spec->object_arg == DL_ARG_SAVED) {
		__u64 *saved = bpf_map_lookup_elem(&saved_objects, &id);

		if (!saved)
			return 1;
		base = (const void *)*saved;
		bpf_map_delete_elem(&saved_objects, &id);
	}

	for (int i = 0; i < DL_MAX_HOPS; i++) {
		if (i >= spec->hops)
			break;
		if (bpf_probe_read_user(&base, sizeof(base), base + spec->hop_offset[i]))
			return -1;
	}
	if (bytes > DL_OBJECT_MAX)
		return -1;
	return bpf_probe_read_user(raw, bytes, base) ? -1 : 0;
}

/*
 * What a probe does besides its record: set or clear the thread's current
 * program (around allocate_circular_buffers), or keep an argument for the
 * call's return. Returns the thread's current program when the spec reads it.
 */
static __always_inline __u64 act(const struct args *args, const struct dl_probe_spec *spec,
				 __u64 id)
{
	__u64 program, *current;

	if (spec->action == DL_ACTION_ENTER_PROGRAM) {
		program = argument(args, spec->object_arg);
		if (bpf_map_update_elem(&current_program, &id, &program, BPF_ANY))
			__sync_fetch_and_add(&stats.map_full, 1);
		return program;
	}
	if (spec->action == DL_ACTION_LEAVE_PROGRAM) {
		bpf_map_delete_elem(&current_program, &id);
		return 0;
	}
	if (spec->action == DL_ACTION_SAVE_OBJECT) {
		__u64 object = argument(args, spec->object_arg);

		if (bpf_map_update_elem(&saved_objects, &id, &object, BPF_ANY))
			__sync_fetch_and_add(&stats.map_full, 1);
		return 0;
	}
	if (spec->object.source != DL_SRC_PROGRAM)
		return 0;
	current = bpf_map_lookup_elem(&current_program, &id);
	return current ? *current : 0;
}

/*
 * Every uprobe, entry or return: what it reports is its spec. Reads come
 * first and the record is reserved only when they all worked, so that a
 * failed read costs no ring space.
 */
SEC("uprobe")
int probe(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 index = cookie >> DL_COOKIE_SPEC_SHIFT;
	__u64 id = bpf_get_current_pid_tgid();
	const struct dl_probe_spec *spec;
	struct device_ref device = { .id = -1 };
	/* On the stack: a uprobe's program may be preempted, so no per-CPU scratch would do. */
	__u8 raw[DL_OBJECT_MAX];
	struct dl_event *ev;
	struct args args;
	__u64 program;

	spec = bpf_map_lookup_elem(&specs, &index);
	if (!spec || !wanted(id >> 32))
		return 0;
	read_args(ctx, &args);
	program = act(&args, spec, id);
	if (!spec->kind)
		return 0;
	if (spec->object_bytes) {
		int err = read_object(&args, spec, id, raw);

		if (err < 0)
			read_failed();
		if (err)
			return 0;
	}
	if (spec->only_if.source != DL_SRC_NONE &&
	    value_of(&args, &spec->only_if, raw, program) != spec->only_if_equals)
		return 0;
	if (spec->device.source != DL_SRC_NONE &&
	    read_device(ctx, cookie, (const void *)value_of(&args, &spec->device, raw, program),
			&device))
		return 0;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&stats.ringbuf_full, 1);
		return 0;
	}
	ev->kind = spec->kind;
	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->address = value_of(&args, &spec->address, raw, program);
	ev->size = value_of(&args, &spec->size, raw, program);
	ev->object = value_of(&args, &spec->object, raw, program);
	ev->mem_type = (__u8)value_of(&args, &spec->mem_type, raw, program);
	ev->flags = value_of(&args, &spec->hooked, raw, program) & 0xff ? DL_FLAG_HOOKED : 0;
	ev->device = device.pointer;
	ev->device_id = device.id;
	ev->device_kind = device.kind;
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
	bpf_ringbuf_submit(ev, submit_flags());
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(process_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;

	/* Threads share the tgid: only new processes are added. */
	if (!follow_children || parent_tgid == child_tgid)
		return 0;
	if (!bpf_map_lookup_elem(&tracked, &parent_tgid))
		return 0;
	if (bpf_map_update_elem(&tracked, &child_tgid, &one, BPF_ANY))
		__sync_fetch_and_add(&stats.map_full, 1);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(process_exit, struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct dl_exit_event *ev;

	/* Only the last thread of the process: signal->live has dropped to 0. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (!bpf_map_lookup_elem(&tracked, &tgid))
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (ev) {
		ev->kind = DL_EV_PROCESS_EXIT;
		ev->pid = tgid;
		ev->ts_ns = bpf_ktime_get_ns();
		ev->exit_code = BPF_CORE_READ(task, exit_code);
		ev->pad = 0;
		BPF_CORE_READ_STR_INTO(&ev->comm, task, group_leader, comm);
		/* An exit must reach user space promptly: it ends launch and -p sessions. */
		bpf_ringbuf_submit(ev, BPF_RB_FORCE_WAKEUP);
	} else {
		__sync_fetch_and_add(&stats.ringbuf_full, 1);
	}
	bpf_map_delete_elem(&tracked, &tgid);
	return 0;
}
