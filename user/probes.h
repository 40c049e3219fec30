/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What devledger probes in libtt_metal.so: for each uprobe the function it
 * sits on, the BPF program that runs there and what that program reports,
 * with the fields it reads named (enum layout_field) until a library's
 * layout turns them into offsets. Shared by the tracer, which attaches
 * them, and `devledger check`, which explains them.
 */
#ifndef DEVLEDGER_PROBES_H
#define DEVLEDGER_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eras.h"
#include "../bpf/devledger.h"

/*
 * The tracker calls devledger relies on, each in the caller that makes it.
 * tt-metal builds its implementation as a unity build: a call can be
 * inlined into its caller, and the tracker's probe then never fires.
 */
enum tracker_call {
	CALL_TRACK_ALLOCATE,	/* Buffer::allocate_impl -> track_allocate */
	CALL_TRACK_DEALLOCATE,	/* Buffer::deallocate_impl -> track_deallocate */
	CALL_TRACK_ALLOCATE_CB, /* ProgramImpl::allocate_circular_buffers -> track_allocate_cb */
	TRACKER_CALLS,
};

struct tracker_call_info {
	enum probe_symbol caller, callee;
	const char *caller_name, *callee_name; /* demangled, for people */
	const char *fallback;		       /* what devledger does where the call was inlined */
	const char *lost; /* what is not seen when the fallback cannot be made either */
};

extern const struct tracker_call_info tracker_calls[TRACKER_CALLS];

/* Which BPF program a probe runs. */
enum probe_program {
	PROGRAM_PROBE, /* one record (or none) per hit */
	PROGRAM_ARRAY, /* one record per element of a vector in the object */
};

/*
 * When a probe is attached: always, or depending on whether a tracker call
 * was inlined into its caller (the probe then stands in for the tracker's).
 */
enum probe_when {
	WHEN_ALWAYS,
	WHEN_CALLED,  /* `call` is still there */
	WHEN_INLINED, /* `call` was inlined away */
	/*
	 * Only where devledger could not find every call that releases a buffer
	 * through its allocator without a report (no MeshBuffer::deallocate, or its
	 * code unreadable): then every release is seen below GraphTracker instead,
	 * and a tracked free takes a second trap.
	 */
	WHEN_RELEASES_UNSEEN,
};

/*
 * One uprobe. For the spec's DL_SRC_OBJECT values (and array fields), the
 * offset names an enum layout_field; probes__spec makes it an offset. A
 * return probe stays at the entry: it finds the return address on top of
 * the stack.
 */
struct probe {
	enum probe_symbol symbol;
	bool retprobe;
	const char *name; /* for people: check, -v */
	enum probe_program program;
	struct dl_probe_spec spec;
	enum probe_when when;
	enum tracker_call call; /* read only when `when` is WHEN_CALLED or WHEN_INLINED */
	/*
	 * Not at the function's entry but at its call to Allocator(Impl)::
	 * deallocate_buffer(Buffer*), with that call's arguments; not attached
	 * where the function makes no such call.
	 */
	bool at_release_call;
};

#define PROBE_COUNT 27
extern const struct probe probes[PROBE_COUNT];

/* Is this probe attached, given which tracker calls were inlined (bit per enum tracker_call)? */
bool probes__wanted(const struct probe *probe, unsigned int inlined);

/*
 * What the BPF side follows for this probe under a library's field offsets
 * (offsets[LAYOUT_FIELDS], DL_OFFSET_UNKNOWN where unknown). Returns 0;
 * -ENOENT when a field it cannot do without is unknown (*missing says
 * which; a Buffer's allocator is merely not read); -ERANGE when the fields
 * span more than one read covers (one line on stderr: a wrong --offset).
 */
int probes__spec(const struct probe *probe, const unsigned int *offsets, struct dl_probe_spec *spec,
		 enum layout_field *missing);

/* The argument registers a probe reads (PROBESITE_RDI, ...): its site must leave them alone. */
unsigned int probes__regs_read(const struct probe *probe);

/* What a spec reads, for people: "reads from *(rsi+16)+0, 72 bytes: address +64, ...". */
void probes__describe(const struct dl_probe_spec *spec, char *buf, size_t len);

/*
 * What is lost when an optional function is missing (NULL: required), as a
 * sentence that follows "no NAME:".
 */
extern const char *const probe_symbol_missing_means[PROBE_SYMBOLS];

/* Is a missing function worth a warning (optional, and probed whatever was inlined)? */
bool probes__warn_if_missing(enum probe_symbol symbol);

#endif /* DEVLEDGER_PROBES_H */
