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

/* One read covers a device's vptr and, at the usual offset 8, Device::id_. */
#define DEVICE_HEAD_BYTES 16

struct dl_bpf_stats stats = {};

/* Bytes of user stack copied with each stack sample; 0: no stacks. */
const volatile __u32 stack_bytes = 0;

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

/*
 * Per thread and probed function: what a call's entry kept for its return
 * (DL_ACTION_SAVE_OBJECT). LRU: a call that never returns (an exception
 * unwound through it) must not fill the map for good.
 */
struct saved_key {
	__u64 pid_tgid;
	__u64 slot;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct saved_key);
	__type(value, struct dl_saved);
} saved_objects SEC(".maps");

/* Stack samples (struct dl_stack_sample); resized by user space, kept tiny with stacks off. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} stacks SEC(".maps");

/* Processes that sent a stack already: a process's first one wakes user space at once. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tgid */
	__type(value, __u8);
} stacked_processes SEC(".maps");

__u32 stack_sequence = 0;

/*
 * Per thread: the address of its last tracked free. The allocator's release
 * of that address that follows on the same thread is the same free (the
 * ledger counts it once): it releases nothing untracked, and needs no stack.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, __u64);
} last_tracked_free SEC(".maps");

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

/* What one hit knows besides its arguments: the thread's program, what the entry kept. */
struct hit {
	__u64 program;
	struct dl_saved saved; /* object 0: nothing was kept */
};

/* One value as its spec says; the bounds keep every access inside raw[] for the verifier. */
static __always_inline __u64 value_of(const struct args *args, const struct dl_value *v,
				      const __u8 *raw, const struct hit *hit)
{
	__u32 off = v->offset;

	switch (v->source) {
	case DL_SRC_ARG:
		return argument(args, v->arg);
	case DL_SRC_PROGRAM:
		return hit->program;
	case DL_SRC_SAVED:
		return hit->saved.arg;
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
 * Chip or mesh, by the object's vtable: `bias` is the library's load bias
 * (where its file's address 0 is in this process). Then the chip's
 * Device::id_, or the mesh's id when its place is known.
 */
static __always_inline int read_device(__u64 cookie, __u64 bias, const void *device,
				       struct device_ref *ref)
{
	__u32 library = (cookie >> DL_COOKIE_LIBRARY_SHIFT) & 0xff;
	struct dl_library *lib = bpf_map_lookup_elem(&libraries, &library);
	__u8 head[DEVICE_HEAD_BYTES];
	const void *base = device;
	__u32 off;

	if (!lib)
		return -1; /* cannot be: the library's entry is written before its probes attach */

	if (bpf_probe_read_user(head, sizeof(head), device)) {
		read_failed();
		return -1;
	}
	ref->pointer = (__u64)device;
	ref->kind = DL_DEVICE_CHIP;
	if (lib->mesh_vtable && *(__u64 *)head == bias + lib->mesh_vtable + 16)
		ref->kind = DL_DEVICE_MESH;
	off = ref->kind == DL_DEVICE_MESH ? lib->mesh_off_id : lib->device_off_id;
	ref->id = -1;
	if (off == DL_OFFSET_UNKNOWN)
		return 0;
	/* Newest tt-metal: the mesh id is in MeshDeviceImpl, behind MeshDevice::pimpl_. */
	if (ref->kind == DL_DEVICE_MESH && lib->mesh_off_impl != DL_OFFSET_UNKNOWN) {
		if (bpf_probe_read_user(&base, sizeof(base), device + lib->mesh_off_impl)) {
			read_failed();
			return -1;
		}
	} else if (off <= DEVICE_HEAD_BYTES - 4 && !(off & 3)) {
		/* Already read with the vptr; masked so that the verifier sees an aligned load. */
		ref->id = *(__s32 *)(head + (off & (DEVICE_HEAD_BYTES - 4)));
		return 0;
	}
	if (bpf_probe_read_user(&ref->id, sizeof(ref->id), base + off)) {
		read_failed();
		return -1;
	}
	return 0;
}

/*
 * ---- Known devices: a hit on a device already read costs no user-memory read ----
 *
 * A device's id and kind never change while it is open, and nearly every hit
 * names one of a few devices. Keyed by the process, its start time (a reused
 * pid is another process) and the device pointer; an entry goes at that
 * device's close (a later object may take its address) and at the process's
 * exit. Only an allocation keeps a device: allocations come from open devices,
 * while a free may come after its device's close (a Buffer outliving it), and
 * must not bring a closed device back. LRU: a device freed without a close
 * only ages out.
 */
struct device_cache_key {
	__u32 tgid;
	__u32 pad;
	__u64 start_time; /* the process's, CLOCK_MONOTONIC ns */
	__u64 device;
};

struct device_cache_value {
	__s32 id;
	__u8 kind;
	__u8 pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct device_cache_key);
	__type(value, struct device_cache_value);
} device_cache SEC(".maps");

static __always_inline void device_cache_key_of(__u64 device, struct device_cache_key *key)
{
	struct task_struct *task = bpf_get_current_task_btf();

	key->tgid = bpf_get_current_pid_tgid() >> 32;
	key->pad = 0;
	key->start_time = BPF_CORE_READ(task, group_leader, start_time);
	key->device = device;
}

/* read_device, from the cache when the device is known; a close forgets it afterwards. */
static __always_inline int read_device_cached(__u64 cookie, __u64 bias, const void *device,
					      struct device_ref *ref, __u32 kind)
{
	bool closing = kind == DL_EV_DEVICE_CLOSE || kind == DL_EV_MESH_CLOSE;
	bool allocating = kind == DL_EV_ALLOC || kind == DL_EV_CB_ALLOC;
	struct device_cache_key key;
	struct device_cache_value *known, value = {};

	device_cache_key_of((__u64)device, &key);
	known = bpf_map_lookup_elem(&device_cache, &key);
	if (known) {
		ref->pointer = (__u64)device;
		ref->id = known->id;
		ref->kind = known->kind;
	} else if (read_device(cookie, bias, device, ref)) {
		return -1;
	} else if (allocating) {
		value.id = ref->id;
		value.kind = ref->kind;
		/* LRU: an update only fails for want of memory, and the next hit reads again. */
		bpf_map_update_elem(&device_cache, &key, &value, BPF_ANY);
	}
	if (closing)
		bpf_map_delete_elem(&device_cache, &key);
	return 0;
}

static long forget_process_device(struct bpf_map *map, struct device_cache_key *key,
				  struct device_cache_value *value, void *tgid)
{
	if (key->tgid == *(__u32 *)tgid)
		bpf_map_delete_elem(map, key);
	return 0;
}

/* At a process's exit: every device it knew. */
static __always_inline void device_cache_forget_process(__u32 tgid)
{
	bpf_for_each_map_elem(&device_cache, forget_process_device, &tgid, 0);
}

/*
 * ---- Hits per probe in the traced processes: every trap counted, whether it makes a
 * record or not (for -v, and the benchmark's traps per buffer). Per CPU: no shared line.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DL_MAX_SPECS);
	__type(key, __u32);
	__type(value, __u64);
} probe_hits SEC(".maps");

static __always_inline void count_hit(__u32 index)
{
	__u64 *hits = bpf_map_lookup_elem(&probe_hits, &index);

	if (hits)
		__sync_fetch_and_add(hits, 1);
}

/* What every record carries: its kind, its thread, when, and its device. */
static __always_inline void start_record(struct dl_event *ev, __u32 kind, __u64 pid_tgid,
					 const struct device_ref *device)
{
	ev->kind = kind;
	ev->pid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->device = device->pointer;
	ev->device_id = device->id;
	ev->device_kind = device->kind;
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
}

/*
 * The probe's object: an argument (or what the call's entry kept), followed
 * through its pointers, then object_bytes read from object_start on. 1: no
 * object (a return whose entry came before devledger attached, or whose
 * entry kept nothing).
 */
static __always_inline int read_object(const struct args *args, const struct dl_probe_spec *spec,
				       const struct hit *hit, __u8 *raw)
{
	const void *base = (const void *)argument(args, spec->object_arg);
	__u32 bytes = spec->object_bytes;

	if (spec->object_arg == DL_ARG_SAVED) {
		if (!hit->saved.object)
			return 1;
		base = (const void *)hit->saved.object;
	}

	for (int i = 0; i < DL_MAX_HOPS; i++) {
		if (i >= spec->hops)
			break;
		if (bpf_probe_read_user(&base, sizeof(base), base + spec->hop_offset[i]))
			return -1;
	}
	if (bytes > DL_OBJECT_MAX)
		return -1;
	return bpf_probe_read_user(raw, bytes, base + spec->object_start) ? -1 : 0;
}

/* A return probe's saved entry: found (and taken) once, before anything is read. */
static __always_inline void take_saved(const struct dl_probe_spec *spec, __u64 id, struct hit *hit)
{
	struct saved_key key = { .pid_tgid = id, .slot = spec->save_slot };
	struct dl_saved *saved;

	if (spec->object_arg != DL_ARG_SAVED)
		return;
	saved = bpf_map_lookup_elem(&saved_objects, &key);
	if (!saved)
		return;
	hit->saved = *saved;
	bpf_map_delete_elem(&saved_objects, &key);
}

/*
 * What a probe does besides its record: set or clear the thread's current
 * program (around allocate_circular_buffers), or keep an argument, one more
 * and the load bias for the call's return.
 */
static __always_inline void act(const struct args *args, const struct dl_probe_spec *spec, __u64 id,
				__u64 bias)
{
	if (spec->action == DL_ACTION_ENTER_PROGRAM) {
		__u64 program = argument(args, spec->object_arg);

		if (bpf_map_update_elem(&current_program, &id, &program, BPF_ANY))
			__sync_fetch_and_add(&stats.map_full, 1);
	} else if (spec->action == DL_ACTION_LEAVE_PROGRAM) {
		bpf_map_delete_elem(&current_program, &id);
	} else if (spec->action == DL_ACTION_SAVE_OBJECT) {
		struct saved_key key = { .pid_tgid = id, .slot = spec->save_slot };
		struct dl_saved saved = { .object = argument(args, spec->object_arg),
					  .arg = argument(args, spec->save_arg),
					  .bias = bias };

		if (bpf_map_update_elem(&saved_objects, &key, &saved, BPF_ANY))
			__sync_fetch_and_add(&stats.map_full, 1);
	}
}

/*
 * The library's load bias: at an entry probe the instruction pointer is the
 * probe site, whose place in the file the cookie carries; a return probe's
 * is its caller's, so a return uses what its entry kept.
 */
static __always_inline __u64 load_bias(struct pt_regs *ctx, __u64 cookie, const struct hit *hit,
				       const struct dl_probe_spec *spec)
{
	if (spec->object_arg == DL_ARG_SAVED)
		return hit->saved.bias;
	return PT_REGS_IP(ctx) - (cookie & DL_COOKIE_VADDR_MASK);
}

/* ---- call stacks ---- */

/*
 * Records that say where memory was allocated, or what may release it
 * without a tracked free: the ledger names these as a leak's or an
 * untracked free's stacks. A tracked free needs none.
 */
static __always_inline bool wants_stack(__u32 kind)
{
	switch (kind) {
	case DL_EV_ALLOC:
	case DL_EV_CB_ALLOC:
	case DL_EV_CB_FREE_ALL:
	case DL_EV_PROGRAM_DESTROYED:
	case DL_EV_DEVICE_CLOSE:
	case DL_EV_MESH_CLOSE:
	case DL_EV_BANK_FREE:
	case DL_EV_BANK_FREE_ALL:
	case DL_EV_ALLOCATOR_CLEAR:
		return true;
	}
	return false;
}

/*
 * Copy stack_bytes of the user stack from sp, as far as it is mapped. A read
 * that fails zeroes what it was to fill, so the one that may fail goes
 * first: the last DL_STACK_CHUNK bytes, ending exactly at stack_bytes. If it
 * worked, all below it is mapped too (a stack is one mapping). Then the
 * first read, to a chunk boundary, and whole chunks after it (a stack's end
 * is page-aligned: none but the last can straddle it), overwriting the
 * tail's bytes with the same ones or, if it failed, with what is there.
 * Returns the bytes copied, 0 if none could be.
 */
static __always_inline __u32 copy_user_stack(__u8 *dst, __u64 sp)
{
	__u32 head = DL_STACK_CHUNK - (sp & (DL_STACK_CHUNK - 1));
	bool tail = !bpf_probe_read_user(dst + stack_bytes - DL_STACK_CHUNK, DL_STACK_CHUNK,
					 (const void *)(sp + stack_bytes - DL_STACK_CHUNK));
	__u32 copied;

	if (bpf_probe_read_user(dst, head, (const void *)sp))
		return 0;
	copied = head;
	for (int i = 0; i < DL_STACK_MAX_BYTES / DL_STACK_CHUNK; i++) {
		if (copied > stack_bytes - DL_STACK_CHUNK)
			break;
		if (bpf_probe_read_user(dst + copied, DL_STACK_CHUNK, (const void *)(sp + copied)))
			return copied;
		copied += DL_STACK_CHUNK;
	}
	return tail ? stack_bytes : copied;
}

/*
 * The real return addresses of the calls that return through the uretprobe
 * trampoline (struct uprobe_task's return_instances, innermost first): the
 * stack holds the trampoline's address instead.
 */
static __always_inline void read_return_instances(struct dl_stack_sample *sample)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct return_instance *ri = BPF_CORE_READ(task, utask, return_instances);

	for (int i = 0; i < DL_STACK_RETURNS; i++) {
		sample->return_slots[i] = ri ? BPF_CORE_READ(ri, stack) : 0;
		sample->return_addresses[i] = ri ? BPF_CORE_READ(ri, orig_ret_vaddr) : 0;
		if (ri)
			ri = BPF_CORE_READ(ri, next);
	}
}

/*
 * Where a return probe's function starts in this process (its registers are
 * its caller's), 0 at an entry: a return is the probe whose entry kept its
 * object, and its cookie has the function's place in the file.
 */
static __always_inline __u64 returned_from(const struct dl_probe_spec *spec, __u64 cookie,
					   __u64 bias)
{
	return spec->object_arg == DL_ARG_SAVED && bias ? bias + (cookie & DL_COOKIE_VADDR_MASK)
						       : 0;
}

/*
 * One stack sample for a record of this kind (of `address`), in the stack
 * ring: its sequence number for the record, 0 when stacks are off, the kind
 * needs none, or the sample was lost (counted). The ring wakes user space at a
 * process's first sample, so that its mappings are read while it runs.
 */
static __always_inline __u32 take_stack(struct pt_regs *ctx, const struct dl_probe_spec *spec,
					__u64 pid_tgid, __u64 cookie, __u64 bias, __u64 address)
{
	struct task_struct *task;
	__u32 kind = spec->kind;
	__u32 tgid = pid_tgid >> 32;
	struct dl_stack_sample *sample;
	__u64 flags = BPF_RB_NO_WAKEUP, *freed;
	__u32 sequence;
	__u8 one = 1;

	if (!stack_bytes)
		return 0;
	if (kind == DL_EV_FREE) {
		bpf_map_update_elem(&last_tracked_free, &pid_tgid, &address, BPF_ANY);
		return 0;
	}
	/* Taken once: a later release of the address (reallocated since) may be untracked. */
	if (kind == DL_EV_BANK_FREE && (freed = bpf_map_lookup_elem(&last_tracked_free, &pid_tgid)) &&
	    *freed == address) {
		bpf_map_delete_elem(&last_tracked_free, &pid_tgid);
		return 0;
	}
	if (!wants_stack(kind))
		return 0;
	sample = bpf_ringbuf_reserve(&stacks, sizeof(*sample) + stack_bytes, 0);
	if (!sample) {
		__sync_fetch_and_add(&stats.stacks_lost, 1);
		return 0;
	}
	sample->bytes = copy_user_stack(sample->stack, PT_REGS_SP(ctx));
	if (!sample->bytes) {
		__sync_fetch_and_add(&stats.stack_reads_failed, 1);
		bpf_ringbuf_discard(sample, BPF_RB_NO_WAKEUP);
		return 0;
	}
	sequence = __sync_fetch_and_add(&stack_sequence, 1) + 1;
	if (!sequence) /* wrapped: 0 means none */
		sequence = __sync_fetch_and_add(&stack_sequence, 1) + 1;
	sample->sequence = sequence;
	sample->pid = tgid;
	sample->tid = (__u32)pid_tgid;
	sample->regs[DL_REG_IP] = PT_REGS_IP(ctx);
	sample->regs[DL_REG_SP] = PT_REGS_SP(ctx);
	sample->regs[DL_REG_BP] = ctx->bp;
	sample->regs[DL_REG_BX] = ctx->bx;
	sample->regs[DL_REG_R12] = ctx->r12;
	sample->regs[DL_REG_R13] = ctx->r13;
	sample->regs[DL_REG_R14] = ctx->r14;
	sample->regs[DL_REG_R15] = ctx->r15;
	sample->returned_from = returned_from(spec, cookie, bias);
	sample->library = (cookie >> DL_COOKIE_LIBRARY_SHIFT) & 0xff;
	sample->pad = 0;
	sample->library_bias = bias;
	task = bpf_get_current_task_btf();
	sample->exe_inode = BPF_CORE_READ(task, mm, exe_file, f_inode, i_ino);
	sample->exe_start = BPF_CORE_READ(task, mm, start_code);
	read_return_instances(sample);
	if (!bpf_map_lookup_elem(&stacked_processes, &tgid)) {
		bpf_map_update_elem(&stacked_processes, &tgid, &one, BPF_ANY);
		flags = BPF_RB_FORCE_WAKEUP;
	} else if (bpf_ringbuf_query(&stacks, BPF_RB_AVAIL_DATA) >
		   bpf_ringbuf_query(&stacks, BPF_RB_RING_SIZE) / 4) {
		flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(sample, flags);
	return sequence;
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
	struct hit hit = {};
	struct dl_event *ev;
	struct args args;
	__u64 bias, type;
	__u32 stack;

	spec = bpf_map_lookup_elem(&specs, &index);
	if (!spec || !wanted(id >> 32))
		return 0;
	count_hit(index);
	read_args(ctx, &args);
	take_saved(spec, id, &hit);
	if (spec->object_bytes) {
		int err = read_object(&args, spec, &hit, raw);

		if (err < 0)
			read_failed();
		if (err)
			return 0;
	}
	if (spec->only_if.source != DL_SRC_NONE &&
	    value_of(&args, &spec->only_if, raw, &hit) != spec->only_if_equals)
		return 0;
	bias = load_bias(ctx, cookie, &hit, spec);
	act(&args, spec, id, bias);
	if (!spec->kind)
		return 0;
	if (spec->object.source == DL_SRC_PROGRAM) {
		__u64 *current = bpf_map_lookup_elem(&current_program, &id);

		hit.program = current ? *current : 0;
	}
	if (spec->device.source != DL_SRC_NONE &&
	    read_device_cached(cookie, bias,
			       (const void *)value_of(&args, &spec->device, raw, &hit), &device,
			       spec->kind))
		return 0;

	stack = take_stack(ctx, spec, id, cookie, bias, value_of(&args, &spec->address, raw, &hit));
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&stats.ringbuf_full, 1);
		return 0;
	}
	start_record(ev, spec->kind, id, &device);
	ev->stack = stack;
	ev->address = value_of(&args, &spec->address, raw, &hit);
	ev->size = value_of(&args, &spec->size, raw, &hit);
	ev->object = value_of(&args, &spec->object, raw, &hit);
	/* A type past 8 bits stays out of range, for the ledger to reject, not wrapped into one. */
	type = value_of(&args, &spec->mem_type, raw, &hit);
	ev->mem_type = type > 0xff ? 0xff : (__u8)type;
	ev->flags = value_of(&args, &spec->hooked, raw, &hit) & 0xff ? DL_FLAG_HOOKED : 0;
	bpf_ringbuf_submit(ev, submit_flags());
	return 0;
}

/* A value that needs no object: an argument, what the entry kept, a constant. */
static __always_inline __u64 plain_value(const struct args *args, const struct dl_value *v,
					 const struct hit *hit)
{
	switch (v->source) {
	case DL_SRC_ARG:
		return argument(args, v->arg);
	case DL_SRC_SAVED:
		return hit->saved.arg;
	case DL_SRC_CONST:
		return v->offset;
	}
	return 0;
}

/* One field of an element, at most 8 bytes; 0 when it cannot be read. */
static __always_inline int read_field(const void *object, const struct dl_value *v, __u64 *value)
{
	__u32 size = v->size;

	*value = 0;
	if (v->source != DL_SRC_OBJECT)
		return 0;
	if (size > sizeof(*value))
		return -1;
	return bpf_probe_read_user(value, size & 0xf, object + v->offset) ? -1 : 0;
}

struct element_ctx {
	const struct dl_probe_spec *spec;
	const void *begin;
	__u64 count;
	__u64 object; /* the program whose buffers these are */
	__u64 pid_tgid;
	struct device_ref device;
	__u8 mem_type;
	__u32 stack; /* one stack sample for every element */
};

/* One element of the vector: the pointer it holds, its fields, its record. */
static long emit_element(__u32 index, void *data)
{
	struct element_ctx *c = data;
	const struct dl_array *a;
	const void *object;
	__u64 address, size, flag;
	struct dl_event *ev;

	if (index >= c->count)
		return 1;
	a = &c->spec->array;
	if (bpf_probe_read_user(&object, sizeof(object), c->begin + (__u64)index * a->stride) ||
	    !object || read_field(object, &a->address, &address) ||
	    read_field(object, &a->size, &size) || read_field(object, &a->only_if, &flag)) {
		read_failed();
		return 0;
	}
	if (a->only_if.source != DL_SRC_NONE && flag != a->only_if_equals)
		return 0;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&stats.ringbuf_full, 1);
		return 0;
	}
	start_record(ev, c->spec->kind, c->pid_tgid, &c->device);
	ev->stack = c->stack;
	ev->address = address;
	ev->size = size;
	ev->object = c->object;
	ev->mem_type = c->mem_type;
	ev->flags = 0;
	bpf_ringbuf_submit(ev, submit_flags());
	return 0;
}

/*
 * The return of a function that laid out a program's buffers without a
 * tracker report (track_allocate_cb inlined away, or Metal 2.0's dataflow
 * buffers, which have no hook at all): one record per buffer, read from the
 * program's own objects through what the entry kept. bpf_loop keeps the
 * verifier's work to one pass over the element.
 */
SEC("uprobe")
int probe_array(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 index = cookie >> DL_COOKIE_SPEC_SHIFT;
	__u64 id = bpf_get_current_pid_tgid();
	const struct dl_probe_spec *spec;
	struct element_ctx c = { .pid_tgid = id, .device = { .id = -1 } };
	struct hit hit = {};
	__u64 vector[2];
	struct args args;

	spec = bpf_map_lookup_elem(&specs, &index);
	if (!spec || !wanted(id >> 32) || !spec->array.stride)
		return 0;
	count_hit(index);
	read_args(ctx, &args);
	take_saved(spec, id, &hit);
	if (spec->object_arg == DL_ARG_SAVED && !hit.saved.object)
		return 0;
	c.object = spec->object_arg == DL_ARG_SAVED ? hit.saved.object
						    : argument(&args, spec->object_arg);
	if (bpf_probe_read_user(vector, sizeof(vector),
				(const void *)c.object + spec->array.vector)) {
		read_failed();
		return 0;
	}
	if (vector[1] <= vector[0])
		return 0;
	c.begin = (const void *)vector[0];
	c.count = (vector[1] - vector[0]) / spec->array.stride;
	if (c.count > DL_MAX_ELEMENTS) {
		__sync_fetch_and_add(&stats.elements_dropped, c.count - DL_MAX_ELEMENTS);
		c.count = DL_MAX_ELEMENTS;
	}
	c.spec = spec;
	c.mem_type = (__u8)plain_value(&args, &spec->mem_type, &hit);
	if (spec->device.source != DL_SRC_NONE &&
	    read_device(cookie, load_bias(ctx, cookie, &hit, spec),
			(const void *)plain_value(&args, &spec->device, &hit), &c.device))
		return 0;
	c.stack = take_stack(ctx, spec, id, cookie, load_bias(ctx, cookie, &hit, spec), 0);
	bpf_loop(DL_MAX_ELEMENTS, emit_element, &c, 0);
	return 0;
}

/* ---- following the library a process really loads ---- */

/* Files named libtt_metal.so seen in this session, by enum dl_file_state. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct dl_file);
	__type(value, __u8);
} library_files SEC(".maps");

#define LIBRARY_NAME "libtt_metal.so"
#define PROT_EXEC    0x4
#define SIGSTOP	     19

#if defined(__TARGET_ARCH_x86)
#define NR_MMAP		    9
#define SYSCALL_NR(regs)    ((regs)->orig_ax)
#define SYSCALL_PROT(regs)  ((regs)->dx)
#elif defined(__TARGET_ARCH_arm64)
#define NR_MMAP		    222
#define SYSCALL_NR(regs)    ((regs)->syscallno)
#define SYSCALL_PROT(regs)  ((regs)->regs[2])
#endif

struct mapped_file {
	struct dl_file file;
	bool named; /* its name is LIBRARY_NAME */
};

static long mapped_file_of(struct task_struct *task, struct vm_area_struct *vma, void *ctx)
{
	struct mapped_file *m = ctx;
	struct file *file = vma->vm_file;
	char name[sizeof(LIBRARY_NAME)];

	if (!file)
		return 0;
	if (bpf_probe_read_kernel_str(name, sizeof(name),
				      BPF_CORE_READ(file, f_path.dentry, d_name.name)) !=
	    sizeof(LIBRARY_NAME))
		return 0;
	for (unsigned int i = 0; i < sizeof(LIBRARY_NAME); i++)
		if (name[i] != LIBRARY_NAME[i])
			return 0;
	m->named = true;
	m->file.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	m->file.ino = BPF_CORE_READ(file, f_inode, i_ino);
	return 0;
}

/*
 * A traced process maps a libtt_metal.so executable: the dynamic loader at
 * start or at dlopen, before any of its code can run. Said to user space; a
 * file not probed yet stops the process (SIGSTOP, delivered as the mmap
 * returns) until its probes are attached, so that none of its calls is
 * missed. Files already probed or ignored cost one record, no stop.
 *
 * At every system call's exit (this machine kind has neither kprobes nor
 * BPF trampolines, and no mmap tracepoint but the syscalls' own): anything
 * but an executable mmap returns at the first compare.
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(library_mapped, struct pt_regs *regs, long ret)
{
	struct mapped_file m = {};
	struct dl_map_event *ev;
	__u32 tgid;
	__u8 *state;

	if (SYSCALL_NR(regs) != NR_MMAP || !(SYSCALL_PROT(regs) & PROT_EXEC) ||
	    (unsigned long)ret >= (unsigned long)-4095)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (filter_pids && !bpf_map_lookup_elem(&tracked, &tgid))
		return 0;
	bpf_find_vma(bpf_get_current_task_btf(), ret, mapped_file_of, &m, 0);
	if (!m.named)
		return 0;
	state = bpf_map_lookup_elem(&library_files, &m.file);
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		/* Counted: a session that may have missed a library is not exact. */
		__sync_fetch_and_add(&stats.ringbuf_full, 1);
		return 0;
	}
	ev->kind = DL_EV_LIBRARY_MAPPED;
	ev->pid = tgid;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->file = m.file;
	ev->stopped = !state && !bpf_send_signal(SIGSTOP);
	ev->pad = 0;
	bpf_ringbuf_submit(ev, BPF_RB_FORCE_WAKEUP);
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
	/* Its pid may come back: that process's first stack must wake user space too. */
	bpf_map_delete_elem(&stacked_processes, &tgid);
	device_cache_forget_process(tgid);
	return 0;
}
