/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records shared by the BPF programs and user space. The BPF side only
 * reports what libtt_metal.so did; the ledger in user space decides what
 * it means. Fixed-width types only, record kind first.
 */
#ifndef DEVLEDGER_H
#define DEVLEDGER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define DL_COMM_LEN 16

enum dl_event_kind {
	/* GraphTracker::track_allocate(const Buffer*) */
	DL_EV_ALLOC = 1,
	/* GraphTracker::track_deallocate(Buffer*) */
	DL_EV_FREE = 2,
	/*
	 * GraphTracker::track_allocate_cb(ranges, addr, size, global, device), or
	 * one program-scope L1 buffer (CB or DFB, by mem_type) read from the
	 * program's own objects where no tracker reports it
	 */
	DL_EV_CB_ALLOC = 3,
	/* GraphTracker::track_deallocate_cb(const IDevice*) */
	DL_EV_CB_FREE_ALL = 4,
	/* detail::ProgramImpl::~ProgramImpl() */
	DL_EV_PROGRAM_DESTROYED = 5,
	/* Device::close() has returned */
	DL_EV_DEVICE_CLOSED = 6,
	/* the last thread of a traced process exited (struct dl_exit_event) */
	DL_EV_PROCESS_EXIT = 7,
	/*
	 * Below GraphTracker: what the allocator itself releases. A tracked
	 * free reaches BankManager::deallocate_buffer too, right after
	 * track_deallocate on the same thread; the ledger pairs them.
	 */
	/* BankManager::deallocate_buffer(address[, allocator id]) */
	DL_EV_BANK_FREE = 8,
	/* BankManager::deallocate_all() */
	DL_EV_BANK_FREE_ALL = 9,
	/* Allocator(Impl)::deallocate_buffers() or clear() entered */
	DL_EV_ALLOCATOR_CLEAR = 10,
	/* ... and returned */
	DL_EV_ALLOCATOR_CLEAR_END = 11,
	/* Device::close() entered (DL_EV_DEVICE_CLOSED is its return) */
	DL_EV_DEVICE_CLOSE = 12,
	/* distributed::MeshDevice::close() entered, and returned */
	DL_EV_MESH_CLOSE = 13,
	DL_EV_MESH_CLOSED = 14,
	/*
	 * A function ran that laid out memory devledger cannot read in this
	 * library (its layout is unknown): object = which (enum probe_symbol).
	 * Not for the ledger: it makes the session inexact.
	 */
	DL_EV_UNSEEN = 15,
	/* a traced process mapped a file named libtt_metal.so executable (struct dl_map_event) */
	DL_EV_LIBRARY_MAPPED = 16,
	/*
	 * Allocator(Impl)::deallocate_buffer(Buffer*) called from a function that
	 * reports nothing (MeshBuffer::deallocate): probed at that call, so a
	 * tracked free, which reaches the allocator from Buffer::deallocate_impl,
	 * takes no trap below track_deallocate.
	 */
	DL_EV_ALLOCATOR_FREE = 17,
	DL_EV_KINDS,
};

/* What a device pointer points at, told apart by the object's vtable. */
enum dl_device_kind {
	DL_DEVICE_CHIP = 0, /* Device: device_id is Device::id_ */
	DL_DEVICE_MESH = 1, /* distributed::MeshDevice: device_id is its mesh id, or -1 */
	DL_DEVICE_KINDS,
};

/*
 * tt-metal's enum class BufferType, in its order, plus the program-scope L1
 * that tt-metal does not allocate as Buffers: circular buffers (CB) and
 * Metal 2.0's dataflow buffers (DFB).
 */
enum dl_mem_type {
	DL_MEM_DRAM = 0,
	DL_MEM_L1 = 1,
	DL_MEM_SYSTEM_MEMORY = 2,
	DL_MEM_L1_SMALL = 3,
	DL_MEM_TRACE = 4,
	DL_MEM_CB = 5,
	DL_MEM_DFB = 6,
	DL_MEM_TYPES = 7,
};

/* A field the library does not tell and no preset knows (e.g. MeshDevice's mesh id). */
#define DL_OFFSET_UNKNOWN 0xffffffffu

/*
 * The attach cookie: which probe (its spec's index), which library, and
 * where the probe site is in the library's file.
 */
#define DL_COOKIE_SPEC_SHIFT	56
#define DL_COOKIE_LIBRARY_SHIFT 48
#define DL_COOKIE_VADDR_MASK	((1ULL << DL_COOKIE_LIBRARY_SHIFT) - 1)
#define DL_MAX_LIBRARIES	64
/* Libraries that lay objects out alike share one group of PROBE_COUNT specs; 8 bits of cookie. */
#define DL_MAX_SPECS		256

/*
 * Probes are data: user space describes each one (struct dl_probe_spec,
 * by the index in its cookie) and one BPF program follows the description.
 * A value comes from an argument register, from the probe's object (an
 * argument, followed through up to DL_MAX_HOPS pointers, e.g. Buffer ->
 * BufferImpl, then read once), from the thread's current program, from what
 * the call's entry kept for its return, or is a constant.
 */
enum dl_source {
	DL_SRC_NONE = 0,
	DL_SRC_ARG,	/* argument `arg` (x86-64: rdi, rsi, rdx, rcx, r8, r9) */
	DL_SRC_OBJECT,	/* `size` bytes at `offset` in the object */
	DL_SRC_PROGRAM, /* the ProgramImpl whose CBs this thread is laying out, 0 if none */
	DL_SRC_CONST,	/* `offset` itself */
	DL_SRC_SAVED,	/* the argument the call's entry kept beside its object (struct dl_saved) */
};

struct dl_value {
	__u8 source; /* enum dl_source */
	__u8 arg;
	__u8 size; /* 1, 4 or 8 */
	__u8 pad;
	__u32 offset;
};

/* What a probe does besides its record. */
enum dl_action {
	DL_ACTION_NONE = 0,
	DL_ACTION_ENTER_PROGRAM, /* the thread lays out the CBs of the program in `object` */
	DL_ACTION_LEAVE_PROGRAM, /* ... and is done */
	DL_ACTION_SAVE_OBJECT, /* keep argument object_arg (and save_arg) for this call's return */
};

/* object_arg of a return probe: the argument its entry kept (DL_ACTION_SAVE_OBJECT). */
#define DL_ARG_SAVED 0xff

#define DL_MAX_HOPS   2
#define DL_OBJECT_MAX 128 /* bytes read from an object at most */

/*
 * What an entry keeps for its return, per thread and probed function: the
 * object, one more argument, and the library's load bias, which a return
 * probe cannot compute (its instruction pointer is the caller's return
 * address, not the probe site).
 */
struct dl_saved {
	__u64 object;
	__u64 arg;
	__u64 bias;
};

/*
 * A std::vector of pointers to objects in the probe's object (a program's
 * circular or dataflow buffers), each element followed and read field by
 * field: one record per element, at most DL_MAX_ELEMENTS (more are counted as
 * lost). Values are DL_SRC_OBJECT offsets in the pointed-to object; an element
 * is skipped unless `only_if` equals only_if_equals (source NONE: never).
 */
#define DL_MAX_ELEMENTS 64

struct dl_array {
	__u32 vector; /* offset of the vector's begin pointer (its end follows) in the object */
	__u16 stride; /* bytes per element (16 for a std::shared_ptr) */
	__u16 pad;
	struct dl_value address, size, only_if;
	__u64 only_if_equals;
};

struct dl_probe_spec {
	__u32 kind;   /* enum dl_event_kind of its record; 0: no record */
	__u32 action; /* enum dl_action */
	/*
	 * The object: argument object_arg, through `hops` pointers at hop_offset[],
	 * then object_bytes read from object_start on; DL_SRC_OBJECT offsets count
	 * from object_start, so that a field deep in a large object costs a small read.
	 */
	__u8 object_arg;
	__u8 hops;
	__u16 object_bytes;
	__u32 hop_offset[DL_MAX_HOPS];
	__u32 object_start;
	__u8 save_arg;	/* DL_ACTION_SAVE_OBJECT: the argument kept beside the object */
	__u8 save_slot; /* what an entry keeps, its return finds under the same slot */
	__u8 pad[2];
	struct dl_value address, size, mem_type, device, object, hooked;
	/* No record (and no action) unless this value equals only_if_equals (source NONE: always).
	 */
	struct dl_value only_if;
	__u64 only_if_equals;
	/* array.stride != 0: one record per element of this vector (the probe_array program) */
	struct dl_array array;
};

/*
 * Per library: where MeshDevice's vtable is in the file (st_value), 0 when
 * it has none. An object whose vptr is that vtable (+16, past the offset to
 * top and the typeinfo) is a mesh; any other IDevice is a chip.
 */
/*
 * Per library traced. Where a device's id is: Device::id_ for a chip; for a
 * mesh, MeshDevice::mesh_id_, or behind MeshDevice::pimpl_ (mesh_off_impl)
 * in MeshDeviceImpl::mesh_id_ (DL_OFFSET_UNKNOWN: the ledger numbers meshes
 * itself).
 */
struct dl_library {
	__u64 mesh_vtable;
	__u32 device_off_id;
	__u32 mesh_off_impl;
	__u32 mesh_off_id;
	__u32 pad;
};

/* A libtt_metal.so file, as the kernel names it: its superblock's dev_t (MAJOR << 20 | MINOR), its inode. */
struct dl_file {
	__u64 dev;
	__u64 ino;
};

/* What devledger does with a file named libtt_metal.so that a traced process maps. */
enum dl_file_state {
	DL_FILE_NEW = 0,     /* not seen yet: the process is stopped until user space decides */
	DL_FILE_PROBED = 1,  /* its probes are attached */
	DL_FILE_IGNORED = 2, /* cannot be probed in this session: said once, never stopped for */
};

/* dl_event.flags */
#define DL_FLAG_HOOKED (1u << 0) /* Buffer::hooked_allocation_: graph capture, not real */

/*
 * One record for every buffer, CB, program, allocator and device event.
 * A device is (device_kind, device_id, device); tid says which thread.
 *  ALLOC:             device, mem_type, address, size, flags, object = Buffer's allocator
 *  FREE:              device, mem_type, address, size, flags
 *  CB_ALLOC:          device, mem_type (CB or DFB), address, size, object = program (0 if
 *                     unknown)
 *  CB_FREE_ALL:       device
 *  PROGRAM_DESTROYED: object = program
 *  DEVICE_CLOSE:      device
 *  DEVICE_CLOSED:     nothing: it ends the thread's DEVICE_CLOSE
 *  BANK_FREE:         object = bank manager, mem_type = its BufferType, address
 *  ALLOCATOR_FREE:    device, mem_type, address, size
 *  BANK_FREE_ALL:     object = bank manager, mem_type = its BufferType
 *  ALLOCATOR_CLEAR:   object = allocator; ALLOCATOR_CLEAR_END: nothing
 *  MESH_CLOSE:        device; MESH_CLOSED: nothing
 * With stacks on, ALLOC, CB_ALLOC, CB_FREE_ALL, PROGRAM_DESTROYED, DEVICE_CLOSE,
 * MESH_CLOSE, BANK_FREE, BANK_FREE_ALL and ALLOCATOR_CLEAR also carry `stack`.
 */
struct dl_event {
	__u32 kind;
	__u32 pid;   /* tgid */
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__u64 address;
	__u64 size;
	__u64 object;
	__u64 device; /* the IDevice*: tells meshes apart when their id is unknown */
	__s32 device_id;
	__u32 tid;
	__u8 mem_type;
	__u8 flags;
	__u8 device_kind; /* enum dl_device_kind */
	__u8 pad[1];
	/* The stack sample (its sequence number) taken with this record; 0: none. */
	__u32 stack;
};

struct dl_exit_event {
	__u32 kind; /* DL_EV_PROCESS_EXIT */
	__u32 pid;
	__u64 ts_ns;
	__s32 exit_code; /* wait(2) status: signal in bits 0-6, code in bits 8-15 */
	__u32 pad;
	char comm[DL_COMM_LEN];
};

struct dl_map_event {
	__u32 kind; /* DL_EV_LIBRARY_MAPPED */
	__u32 pid;
	__u64 ts_ns;
	struct dl_file file;
	__u32 stopped; /* 1: SIGSTOP was sent; user space sends SIGCONT once it decided */
	__u32 pad;
};

/*
 * A call stack, in a ring of its own (`stacks`) so that the ledger's records
 * stay small and a full stack ring loses only stacks: the registers the
 * unwinder starts from and a copy of the user stack from sp up. Taken at
 * allocations and at what may release memory untracked (closes, clears,
 * destructors, the allocator's own releases); user space unwinds it with
 * the call-frame information of the modules the process maps.
 */
enum dl_stack_reg {
	DL_REG_IP = 0,
	DL_REG_SP,
	DL_REG_BP,
	DL_REG_BX,
	DL_REG_R12,
	DL_REG_R13,
	DL_REG_R14,
	DL_REG_R15,
	DL_STACK_REGS,
};

/*
 * --stack-bytes bounds: the copy goes in pages (a read per page costs less than
 * the bytes it copies), so it is a whole number of them, and the verifier
 * wants a bound.
 */
#define DL_STACK_CHUNK	   4096
#define DL_STACK_MIN_BYTES DL_STACK_CHUNK
#define DL_STACK_MAX_BYTES (64 << 10)

/*
 * A function with a return probe returns through the kernel's trampoline:
 * on entry the kernel puts the trampoline's address in the stack slot of
 * the return address, and keeps the real one. The innermost of those, as
 * (slot address, real return address); slot 0: none.
 */
#define DL_STACK_RETURNS 8

struct dl_stack_sample {
	__u32 sequence; /* what dl_event.stack names; never 0 */
	__u32 pid;	/* tgid */
	__u32 tid;
	__u32 bytes; /* of stack[] copied, from regs[DL_REG_SP] up */
	__u64 regs[DL_STACK_REGS];
	__u64 return_slots[DL_STACK_RETURNS];
	__u64 return_addresses[DL_STACK_RETURNS];
	/*
	 * At a return probe: the entry of the function that returned (the
	 * registers are its caller's, at the return address); 0 at an entry.
	 */
	__u64 returned_from;
	/*
	 * What places the library and the executable without /proc/PID/maps,
	 * for a process gone before user space could read them: the probe's
	 * library (its index in the cookie) and load bias, and the executable's
	 * inode and lowest code address (mm->start_code).
	 */
	__u32 library;
	__u32 pad;
	__u64 library_bias;
	__u64 exe_inode;
	__u64 exe_start;
	__u8 stack[];
};

/* Failures on the BPF side, read by user space from .bss; each is reported. */
struct dl_bpf_stats {
	__u64 ringbuf_full;	/* records lost: bpf_ringbuf_reserve failed */
	__u64 read_failed;	/* bpf_probe_read_user failed: record lost */
	__u64 map_full;		/* a helper map was full: attribution lost */
	__u64 elements_dropped; /* program-scope buffers past DL_MAX_ELEMENTS: records lost */
	__u64 stacks_lost;	/* the stack ring was full: a record without its stack */
	__u64 stack_reads_failed; /* not even sp's first chunk could be read: no stack */
};

_Static_assert(sizeof(struct dl_event) == 64, "dl_event layout");
_Static_assert(sizeof(struct dl_library) == 24, "dl_library layout");
_Static_assert(sizeof(struct dl_map_event) == 40, "dl_map_event layout");
_Static_assert(sizeof(struct dl_value) == 8, "dl_value layout");
_Static_assert(sizeof(struct dl_array) == 40, "dl_array layout");
_Static_assert(sizeof(struct dl_saved) == 24, "dl_saved layout");
_Static_assert(sizeof(struct dl_probe_spec) == 136, "dl_probe_spec layout");
_Static_assert(sizeof(struct dl_exit_event) == 40, "dl_exit_event layout");
_Static_assert(sizeof(struct dl_stack_sample) == 248, "dl_stack_sample layout");
_Static_assert(sizeof(struct dl_bpf_stats) == 48, "dl_bpf_stats layout");

#endif /* DEVLEDGER_H */
