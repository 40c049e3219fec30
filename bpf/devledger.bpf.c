/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Uprobes on libtt_metal.so: report what the runtime allocated and released,
 * as fixed-size records in one ring buffer. No interpretation happens here:
 * the ledger in user space decides what every record means.
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
 * Era-B tt-metal layouts (tt::tt_metal::Buffer; Device::id_). Kept in one
 * place so that they can come from the library's DWARF instead.
 */
/* Nonzero: Buffer holds a pointer to its state here (era C's pimpl); the offsets below are in it.
 */
const volatile __u32 buffer_off_impl = 0;
/* Bytes read from the Buffer (or its state): up to the end of the last field read. */
const volatile __u32 buffer_read_bytes = DL_ERA_B_BUFFER_ADDRESS + 8;
const volatile __u32 buffer_off_device = DL_ERA_B_BUFFER_DEVICE;
const volatile __u32 buffer_off_size = DL_ERA_B_BUFFER_SIZE;
const volatile __u32 buffer_off_type = DL_ERA_B_BUFFER_TYPE;
const volatile __u32 buffer_off_hooked = DL_ERA_B_BUFFER_HOOKED;
const volatile __u32 buffer_off_address = DL_ERA_B_BUFFER_ADDRESS;
const volatile __u32 device_off_id = DL_ERA_B_DEVICE_ID;

/* One read covers every Buffer field above. */
#define BUFFER_READ_BYTES 96

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

/* Per thread: the program whose CBs are being allocated, or the device being closed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, __u64);
} current_program SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, __s32);
} closing_device SEC(".maps");

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

static __always_inline struct dl_event *reserve(__u32 kind, __u32 tgid)
{
	struct dl_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		__sync_fetch_and_add(&stats.ringbuf_full, 1);
		return NULL;
	}
	ev->kind = kind;
	ev->pid = tgid;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->address = 0;
	ev->size = 0;
	ev->object = 0;
	ev->device_id = -1;
	ev->mem_type = 0;
	ev->flags = 0;
	ev->pad = 0;
	return ev;
}

/* Fields of the copied object; the bound keeps every access inside raw[] for the verifier. */
static __always_inline __u64 field_u64(const __u8 *raw, __u32 off)
{
	return off <= BUFFER_READ_BYTES - 8 ? *(const __u64 *)(raw + off) : 0;
}

static __always_inline __u32 field_u32(const __u8 *raw, __u32 off)
{
	return off <= BUFFER_READ_BYTES - 4 ? *(const __u32 *)(raw + off) : 0;
}

static __always_inline int read_device_id(const void *device, __s32 *id)
{
	if (bpf_probe_read_user(id, sizeof(*id), device + device_off_id)) {
		__sync_fetch_and_add(&stats.read_failed, 1);
		return -1;
	}
	return 0;
}

static __always_inline int buffer_event(__u32 kind, const void *buffer)
{
	__u8 raw[BUFFER_READ_BYTES];
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct dl_event *ev;
	const void *device;
	__s32 device_id;

	if (!wanted(tgid))
		return 0;
	if (buffer_off_impl &&
	    bpf_probe_read_user(&buffer, sizeof(buffer), buffer + buffer_off_impl)) {
		__sync_fetch_and_add(&stats.read_failed, 1);
		return 0;
	}
	if (buffer_read_bytes > sizeof(raw) ||
	    bpf_probe_read_user(raw, buffer_read_bytes, buffer)) {
		__sync_fetch_and_add(&stats.read_failed, 1);
		return 0;
	}
	device = (const void *)field_u64(raw, buffer_off_device);
	if (read_device_id(device, &device_id))
		return 0;
	ev = reserve(kind, tgid);
	if (!ev)
		return 0;
	ev->device_id = device_id;
	ev->size = field_u64(raw, buffer_off_size);
	ev->address = field_u64(raw, buffer_off_address);
	ev->mem_type = (__u8)field_u32(raw, buffer_off_type);
	if (buffer_off_hooked < BUFFER_READ_BYTES && raw[buffer_off_hooked])
		ev->flags |= DL_FLAG_HOOKED;
	bpf_ringbuf_submit(ev, submit_flags());
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(track_allocate, void *tracker, const void *buffer)
{
	return buffer_event(DL_EV_ALLOC, buffer);
}

SEC("uprobe")
int BPF_KPROBE(track_deallocate, void *tracker, const void *buffer)
{
	return buffer_event(DL_EV_FREE, buffer);
}

/* ProgramImpl::allocate_circular_buffers(device): CBs reported inside it belong to `program`. */
SEC("uprobe")
int BPF_KPROBE(allocate_circular_buffers, void *program)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 value = (__u64)program;

	if (!wanted(id >> 32))
		return 0;
	if (bpf_map_update_elem(&current_program, &id, &value, BPF_ANY))
		__sync_fetch_and_add(&stats.map_full, 1);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(allocate_circular_buffers_return)
{
	__u64 id = bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&current_program, &id);
	return 0;
}

/*
 * track_allocate_cb(this, ranges, address, size, globally_allocated, device):
 * the device is the sixth argument, past what BPF_KPROBE takes here.
 */
SEC("uprobe")
int track_allocate_cb(struct pt_regs *ctx)
{
	__u64 address = PT_REGS_PARM3(ctx), size = PT_REGS_PARM4(ctx);
	const void *device = (const void *)ctx->r9;
	__u64 id = bpf_get_current_pid_tgid();
	struct dl_event *ev;
	__u64 *program;
	__s32 device_id;

	if (!wanted(id >> 32) || read_device_id(device, &device_id))
		return 0;
	ev = reserve(DL_EV_CB_ALLOC, id >> 32);
	if (!ev)
		return 0;
	program = bpf_map_lookup_elem(&current_program, &id);
	ev->object = program ? *program : 0;
	ev->device_id = device_id;
	ev->address = address;
	ev->size = size;
	ev->mem_type = DL_MEM_CB;
	bpf_ringbuf_submit(ev, submit_flags());
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(track_deallocate_cb, void *tracker, const void *device)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct dl_event *ev;
	__s32 device_id;

	if (!wanted(tgid) || read_device_id(device, &device_id))
		return 0;
	ev = reserve(DL_EV_CB_FREE_ALL, tgid);
	if (!ev)
		return 0;
	ev->device_id = device_id;
	ev->mem_type = DL_MEM_CB;
	bpf_ringbuf_submit(ev, submit_flags());
	return 0;
}

/* ~ProgramImpl(): tt-metal reports nothing, but the program's CBs go with it. */
SEC("uprobe")
int BPF_KPROBE(program_destroyed, void *program)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct dl_event *ev;

	if (!wanted(tgid))
		return 0;
	ev = reserve(DL_EV_PROGRAM_DESTROYED, tgid);
	if (!ev)
		return 0;
	ev->object = (__u64)program;
	ev->mem_type = DL_MEM_CB;
	bpf_ringbuf_submit(ev, submit_flags());
	return 0;
}

/*
 * Device::close() frees its program cache with tracking, then drops the
 * allocator with no per-buffer report: the close record is sent at return,
 * after those tracked frees.
 */
SEC("uprobe")
int BPF_KPROBE(device_close, const void *device)
{
	__u64 id = bpf_get_current_pid_tgid();
	__s32 device_id;

	if (!wanted(id >> 32) || read_device_id(device, &device_id))
		return 0;
	if (bpf_map_update_elem(&closing_device, &id, &device_id, BPF_ANY))
		__sync_fetch_and_add(&stats.map_full, 1);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(device_close_return)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct dl_event *ev;
	__s32 *device_id;

	device_id = bpf_map_lookup_elem(&closing_device, &id);
	if (!device_id)
		return 0;
	ev = reserve(DL_EV_DEVICE_CLOSED, id >> 32);
	if (ev) {
		ev->device_id = *device_id;
		bpf_ringbuf_submit(ev, submit_flags());
	}
	bpf_map_delete_elem(&closing_device, &id);
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
