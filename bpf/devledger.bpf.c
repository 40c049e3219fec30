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
const volatile __u32 buffer_off_allocator = DL_ERA_B_BUFFER_ALLOCATOR;
const volatile __u32 device_off_id = DL_ERA_B_DEVICE_ID;
/* MeshDevice's mesh id; DL_OFFSET_UNKNOWN: the ledger numbers meshes itself. */
const volatile __u32 mesh_off_id = DL_OFFSET_UNKNOWN;

/* One read covers every Buffer field above. */
#define BUFFER_READ_BYTES 96
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

/* Per library traced, by the index in each attach cookie. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DL_MAX_LIBRARIES);
	__type(key, __u32);
	__type(value, struct dl_library);
} libraries SEC(".maps");

/* Per thread: the program whose CBs are being allocated. */
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

static __always_inline struct dl_event *reserve(__u32 kind, __u64 pid_tgid)
{
	struct dl_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);

	if (!ev) {
		__sync_fetch_and_add(&stats.ringbuf_full, 1);
		return NULL;
	}
	ev->kind = kind;
	ev->pid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->address = 0;
	ev->size = 0;
	ev->object = 0;
	ev->device = 0;
	ev->device_id = -1;
	ev->mem_type = 0;
	ev->flags = 0;
	ev->device_kind = DL_DEVICE_CHIP;
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
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
static __always_inline int read_device(struct pt_regs *ctx, const void *device,
				       struct device_ref *ref)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 library = cookie >> DL_COOKIE_LIBRARY_SHIFT;
	struct dl_library *lib = bpf_map_lookup_elem(&libraries, &library);
	__u8 head[DEVICE_HEAD_BYTES];
	__u32 off;

	if (bpf_probe_read_user(head, sizeof(head), device)) {
		__sync_fetch_and_add(&stats.read_failed, 1);
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
		__sync_fetch_and_add(&stats.read_failed, 1);
		return -1;
	}
	return 0;
}

static __always_inline void set_device(struct dl_event *ev, const struct device_ref *ref)
{
	ev->device = ref->pointer;
	ev->device_id = ref->id;
	ev->device_kind = ref->kind;
}

static __always_inline int buffer_event(struct pt_regs *ctx, __u32 kind, const void *buffer)
{
	__u8 raw[BUFFER_READ_BYTES];
	__u64 id = bpf_get_current_pid_tgid();
	struct device_ref device;
	struct dl_event *ev;

	if (!wanted(id >> 32))
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
	if (read_device(ctx, (const void *)field_u64(raw, buffer_off_device), &device))
		return 0;
	ev = reserve(kind, id);
	if (!ev)
		return 0;
	set_device(ev, &device);
	ev->size = field_u64(raw, buffer_off_size);
	ev->address = field_u64(raw, buffer_off_address);
	ev->mem_type = (__u8)field_u32(raw, buffer_off_type);
	if (kind == DL_EV_ALLOC && buffer_off_allocator != DL_OFFSET_UNKNOWN)
		ev->object = field_u64(raw, buffer_off_allocator);
	if (buffer_off_hooked < BUFFER_READ_BYTES && raw[buffer_off_hooked])
		ev->flags |= DL_FLAG_HOOKED;
	bpf_ringbuf_submit(ev, submit_flags());
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(track_allocate, void *tracker, const void *buffer)
{
	return buffer_event(ctx, DL_EV_ALLOC, buffer);
}

SEC("uprobe")
int BPF_KPROBE(track_deallocate, void *tracker, const void *buffer)
{
	return buffer_event(ctx, DL_EV_FREE, buffer);
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
	const void *device_ptr = (const void *)ctx->r9;
	__u64 id = bpf_get_current_pid_tgid();
	struct device_ref device;
	struct dl_event *ev;
	__u64 *program;

	if (!wanted(id >> 32) || read_device(ctx, device_ptr, &device))
		return 0;
	ev = reserve(DL_EV_CB_ALLOC, id);
	if (!ev)
		return 0;
	program = bpf_map_lookup_elem(&current_program, &id);
	ev->object = program ? *program : 0;
	set_device(ev, &device);
	ev->address = address;
	ev->size = size;
	ev->mem_type = DL_MEM_CB;
	bpf_ringbuf_submit(ev, submit_flags());
	return 0;
}

/* A record that names a device and nothing else: CB_FREE_ALL, DEVICE_CLOSE, MESH_CLOSE. */
static __always_inline int device_event(struct pt_regs *ctx, __u32 kind, const void *device_ptr)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct device_ref device;
	struct dl_event *ev;

	if (!wanted(id >> 32) || read_device(ctx, device_ptr, &device))
		return 0;
	ev = reserve(kind, id);
	if (!ev)
		return 0;
	set_device(ev, &device);
	if (kind == DL_EV_CB_FREE_ALL)
		ev->mem_type = DL_MEM_CB;
	bpf_ringbuf_submit(ev, submit_flags());
	return 0;
}

/* A record of what happened to an object (a program, allocator or bank manager). */
static __always_inline int emit_object(__u64 id, __u32 kind, const void *object, __u8 mem_type,
				       __u64 address)
{
	struct dl_event *ev = reserve(kind, id);

	if (!ev)
		return 0;
	ev->object = (__u64)object;
	ev->mem_type = mem_type;
	ev->address = address;
	bpf_ringbuf_submit(ev, submit_flags());
	return 0;
}

static __always_inline int object_event(__u32 kind, const void *object)
{
	__u64 id = bpf_get_current_pid_tgid();

	return wanted(id >> 32) ? emit_object(id, kind, object, 0, 0) : 0;
}

SEC("uprobe")
int BPF_KPROBE(track_deallocate_cb, void *tracker, const void *device)
{
	return device_event(ctx, DL_EV_CB_FREE_ALL, device);
}

/* ~ProgramImpl(): tt-metal reports nothing, but the program's CBs go with it. */
SEC("uprobe")
int BPF_KPROBE(program_destroyed, void *program)
{
	return object_event(DL_EV_PROGRAM_DESTROYED, program);
}

/*
 * Device::close() frees its program cache with tracking, then drops the
 * allocator with no per-buffer report. Its entry and return bracket what
 * happens inside on the same thread; the ledger releases what is left at
 * the return.
 */
SEC("uprobe")
int BPF_KPROBE(device_close, const void *device)
{
	return device_event(ctx, DL_EV_DEVICE_CLOSE, device);
}

SEC("uretprobe")
int BPF_KRETPROBE(device_close_return)
{
	return object_event(DL_EV_DEVICE_CLOSED, NULL);
}

/* MeshDevice::close(): the mesh's allocator, then every chip of the mesh (nested closes). */
SEC("uprobe")
int BPF_KPROBE(mesh_close, const void *mesh)
{
	return device_event(ctx, DL_EV_MESH_CLOSE, mesh);
}

SEC("uretprobe")
int BPF_KRETPROBE(mesh_close_return)
{
	return object_event(DL_EV_MESH_CLOSED, NULL);
}

/*
 * A bank manager's release. Its type is its first data member (BankManager
 * has no vptr): BufferType buffer_type_.
 */
static __always_inline int bank_event(__u32 kind, const void *bank, __u64 address)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 type;

	if (!wanted(id >> 32))
		return 0;
	if (bpf_probe_read_user(&type, sizeof(type), bank)) {
		__sync_fetch_and_add(&stats.read_failed, 1);
		return 0;
	}
	return emit_object(id, kind, bank, (__u8)type, address);
}

/* BankManager::deallocate_buffer(address[, allocator id]): every release of one buffer. */
SEC("uprobe")
int BPF_KPROBE(bank_deallocate, const void *bank, __u64 address)
{
	return bank_event(DL_EV_BANK_FREE, bank, address);
}

/* BankManager::deallocate_all(): everything in the bank at once. */
SEC("uprobe")
int BPF_KPROBE(bank_deallocate_all, const void *bank)
{
	return bank_event(DL_EV_BANK_FREE_ALL, bank, 0);
}

/* Allocator(Impl)::deallocate_buffers() and clear(): every bank of one allocator. */
SEC("uprobe")
int BPF_KPROBE(allocator_clear, const void *allocator)
{
	return object_event(DL_EV_ALLOCATOR_CLEAR, allocator);
}

SEC("uretprobe")
int BPF_KRETPROBE(allocator_clear_return)
{
	return object_event(DL_EV_ALLOCATOR_CLEAR_END, NULL);
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
