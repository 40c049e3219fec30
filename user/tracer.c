/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../bpf/devledger.h"
#include "devledger.skel.h"
#include "elfsyms.h"
#include "library.h"
#include "probes.h"
#include "probesite.h"
#include "tracer.h"
#include "uprobemulti.h"

#define DEFAULT_RING_BYTES (16u << 20)
/* About 4000 samples of the default 8 KiB: what arrives while user space unwinds a burst. */
#define DEFAULT_STACK_RING_BYTES (32u << 20)

_Static_assert(PROBE_COUNT <= DL_MAX_SPECS, "every probe has a spec slot");

/* Groups of specs: libraries that lay their objects out alike share one. */
#define SPEC_GROUPS (DL_MAX_SPECS / PROBE_COUNT)

struct tracer {
	struct devledger_bpf *skel;
	struct ring_buffer *ring;
	struct ring_buffer *stack_ring; /* NULL with stacks off */
	struct bpf_link **links;
	size_t link_count;
	size_t link_capacity;
	bool multi;    /* uprobes in uprobe_multi links (link_fds), not perf-event links */
	int *link_fds; /* uprobe_multi links */
	size_t link_fd_count;
	size_t probe_count; /* uprobes attached, either way */
	bool verbose;
	pid_t pid_filter; /* -1: every process that maps a probed file */
	size_t library_count;
	const struct library *groups[SPEC_GROUPS]; /* the first library of each spec group */
	size_t group_count;
	struct bpf_link *watch; /* library_mapped */
	tracer_record_fn on_record;
	tracer_record_fn on_stack;
	void *ctx;
};

static int libbpf_print(enum libbpf_print_level level, const char *format, va_list args)
{
	(void)level;
	return vfprintf(stderr, format, args);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *format, va_list args)
{
	(void)level;
	(void)format;
	(void)args;
	return 0;
}

static int handle_record(void *ctx, void *data, size_t size)
{
	struct tracer *tracer = ctx;
	const struct dl_event *ev = data;

	/*
	 * A record's stack sample was submitted before the record: whatever the
	 * stack ring holds now includes it, so it reaches on_stack first.
	 */
	if (tracer->stack_ring && size == sizeof(*ev) && ev->stack) {
		int n = ring_buffer__consume(tracer->stack_ring);

		if (n < 0)
			return n;
	}
	return tracer->on_record(tracer->ctx, data, size);
}

static int handle_stack(void *ctx, void *data, size_t size)
{
	struct tracer *tracer = ctx;

	return tracer->on_stack(tracer->ctx, data, size);
}

/*
 * The stack ring, consumed apart, and waking the same poll as the records:
 * its epoll set nested in theirs (a wake-up then consumes both).
 */
static int open_stack_ring(struct tracer *tracer)
{
	struct epoll_event event = { .events = EPOLLIN, .data.fd = 0 };

	tracer->stack_ring = ring_buffer__new(bpf_map__fd(tracer->skel->maps.stacks),
					      handle_stack, tracer, NULL);
	if (!tracer->stack_ring)
		return -errno;
	if (epoll_ctl(ring_buffer__epoll_fd(tracer->ring), EPOLL_CTL_ADD,
		      ring_buffer__epoll_fd(tracer->stack_ring), &event))
		return -errno;
	return 0;
}

/*
 * Keep a link that was just made, or say what could not be attached: one
 * place for both, so every attach fails the same way.
 */
static int keep_link(struct tracer *tracer, struct bpf_link *link, const char *what,
		     const char *where)
{
	int err;

	if (!link) {
		err = -errno;
		fprintf(stderr, "devledger: attaching %s%s%s: %s\n", what, where ? " in " : "",
			where ? where : "", strerror(-err));
		return err;
	}
	if (tracer->link_count == tracer->link_capacity) {
		size_t capacity = tracer->link_capacity ? tracer->link_capacity * 2 : 16;
		struct bpf_link **links = realloc(tracer->links, capacity * sizeof(*links));

		if (!links) {
			bpf_link__destroy(link);
			return -ENOMEM;
		}
		tracer->links = links;
		tracer->link_capacity = capacity;
	}
	tracer->links[tracer->link_count++] = link;
	return 0;
}

static int keep_fd(struct tracer *tracer, int fd)
{
	int *fds = realloc(tracer->link_fds, (tracer->link_fd_count + 1) * sizeof(*fds));

	if (!fds) {
		close(fd);
		return -ENOMEM;
	}
	tracer->link_fds = fds;
	tracer->link_fds[tracer->link_fd_count++] = fd;
	return 0;
}

/*
 * Each uprobe's cookie: its spec (what it reports), which library it is in,
 * and where its site is in that file, so that the BPF side finds the
 * library's load bias (the instruction pointer less the site) and with it
 * the library's vtables.
 */
static uint64_t probe_cookie(size_t spec_index, size_t library_index, const struct elfsym *sym,
			     uint64_t offset)
{
	return ((uint64_t)spec_index << DL_COOKIE_SPEC_SHIFT) |
	       ((uint64_t)library_index << DL_COOKIE_LIBRARY_SHIFT) |
	       ((sym->vaddr + (offset - sym->offset)) & DL_COOKIE_VADDR_MASK);
}

/* One set of specs serves libraries that agree on what each probe reads. */
static bool same_specs(const struct library *a, const struct library *b)
{
	if (memcmp(a->attached, b->attached, sizeof(a->attached)))
		return false;
	for (size_t i = 0; i < PROBE_COUNT; i++)
		if (a->attached[i] && memcmp(&a->specs[i], &b->specs[i], sizeof(a->specs[i])))
			return false;
	return true;
}

/*
 * The spec group of a library: one it shares with a library traced already,
 * else a new one, written for the BPF side. -ENOSPC past SPEC_GROUPS layouts.
 */
static int spec_group(struct tracer *tracer, const struct library *lib, size_t *group)
{
	struct bpf_map *map = tracer->skel->maps.specs;

	for (*group = 0; *group < tracer->group_count; (*group)++)
		if (same_specs(tracer->groups[*group], lib))
			return 0;
	if (tracer->group_count == SPEC_GROUPS)
		return -ENOSPC;
	for (__u32 i = 0; i < PROBE_COUNT; i++) {
		__u32 index = (__u32)(*group * PROBE_COUNT) + i;

		if (!lib->attached[i])
			continue;
		if (bpf_map__update_elem(map, &index, sizeof(index), &lib->specs[i],
					 sizeof(lib->specs[i]), BPF_ANY)) {
			int err = -errno;

			fprintf(stderr, "devledger: probe specs: %s\n", strerror(-err));
			return err;
		}
		if (tracer->verbose) {
			char text[256];

			probes__describe(&lib->specs[i], text, sizeof(text));
			fprintf(stderr, "devledger: %s %s\n", probes[i].name, text);
		}
	}
	tracer->groups[tracer->group_count++] = lib;
	return 0;
}

/* One uprobe_multi link per BPF program and kind (entries, returns). */
struct multi_group {
	uint64_t offsets[PROBE_COUNT];
	uint64_t cookies[PROBE_COUNT];
	size_t count;
};

static struct bpf_program *program_of(struct tracer *tracer, const struct probe *probe)
{
	return probe->program == PROGRAM_ARRAY ? tracer->skel->progs.probe_array
					       : tracer->skel->progs.probe;
}

/*
 * Every probe of one library: in uprobe_multi links (by program, entries and
 * returns apart), or one perf-event link each. A uprobe_multi failure is
 * -EOPNOTSUPP, unsaid: the caller then tries perf-event links, which say
 * what is wrong.
 */
static int attach_target(struct tracer *tracer, size_t library_index, size_t spec_group, pid_t pid,
			 const struct library *lib)
{
	struct multi_group groups[2][2] = { 0 }; /* [program][return] */
	bool pimpl = lib->offset[FIELD_MESH_IMPL] != DL_OFFSET_UNKNOWN &&
		     lib->offset[FIELD_MESH_IMPL_ID] != DL_OFFSET_UNKNOWN;
	struct dl_library entry = {
		.mesh_vtable = lib->mesh_vtable,
		.device_off_id = lib->offset[FIELD_DEVICE_ID],
		.mesh_off_impl = pimpl ? lib->offset[FIELD_MESH_IMPL] : DL_OFFSET_UNKNOWN,
		.mesh_off_id = pimpl ? lib->offset[FIELD_MESH_IMPL_ID] : lib->offset[FIELD_MESH_ID],
	};
	__u32 key = (__u32)library_index;
	int err;

	if (tracer->verbose)
		fprintf(stderr, "devledger: %s: profile %s (%s); offsets from %s\n", lib->path,
			lib->era->name, lib->era_why,
			lib->has_dwarf ? "the library's DWARF where it has them" : "the presets");
	if (tracer->verbose)
		fprintf(stderr, "devledger: %s: MeshDevice vtable %s\n", lib->path,
			lib->mesh_vtable ? "found: meshes are told from chips" : "missing");
	if (bpf_map__update_elem(tracer->skel->maps.libraries, &key, sizeof(key), &entry,
				 sizeof(entry), BPF_ANY)) {
		err = -errno;
		fprintf(stderr, "devledger: %s: %s\n", lib->path, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		LIBBPF_OPTS(bpf_uprobe_opts, uprobe_opts, .retprobe = probes[i].retprobe);
		const struct elfsym *sym = &lib->syms[probes[i].symbol];
		uint64_t offset = lib->sites[i].offset;
		struct multi_group *group;
		struct bpf_link *link;

		if (!lib->attached[i])
			continue;
		/* With --entry-probes there is no site to speak of. */
		if (tracer->verbose && !probes[i].retprobe &&
		    !strstr(lib->sites[i].why, "--entry-probes"))
			fprintf(stderr, "devledger: %s: probe at %s\n", probes[i].name,
				lib->sites[i].why);
		uprobe_opts.bpf_cookie =
			probe_cookie(spec_group * PROBE_COUNT + i, library_index, sym, offset);
		tracer->probe_count++;
		if (tracer->multi) {
			group = &groups[probes[i].program == PROGRAM_ARRAY][probes[i].retprobe];
			group->offsets[group->count] = offset;
			group->cookies[group->count++] = uprobe_opts.bpf_cookie;
			continue;
		}
		link = bpf_program__attach_uprobe_opts(program_of(tracer, &probes[i]), pid,
						       lib->path, offset, &uprobe_opts);
		err = keep_link(tracer, link, sym->name, lib->path);
		if (err)
			return err;
	}
	for (int p = 0; tracer->multi && p < 2; p++) {
		struct bpf_program *prog =
			p ? tracer->skel->progs.probe_array : tracer->skel->progs.probe;

		for (int r = 0; r < 2; r++) {
			struct multi_group *group = &groups[p][r];
			int fd;

			if (!group->count)
				continue;
			fd = uprobe_multi__attach(bpf_program__fd(prog), lib->path, group->offsets,
						  group->cookies, group->count, r, pid);
			if (fd < 0) {
				if (tracer->verbose)
					fprintf(stderr, "devledger: uprobe_multi link in %s: %s\n",
						lib->path, strerror(-fd));
				return -EOPNOTSUPP;
			}
			err = keep_fd(tracer, fd);
			if (err)
				return err;
		}
	}
	return 0;
}

static int attach_tracepoints(struct tracer *tracer)
{
	struct bpf_program *progs[] = { tracer->skel->progs.process_exit,
					tracer->skel->progs.process_fork };

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		int err = keep_link(tracer, bpf_program__attach(progs[i]),
				    bpf_program__name(progs[i]), NULL);

		if (err)
			return err;
	}
	/* Last: it stops processes, which only a running session resumes. */
	tracer->watch = bpf_program__attach(tracer->skel->progs.library_mapped);
	if (!tracer->watch) {
		int err = -errno;

		fprintf(stderr, "devledger: attaching library_mapped: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

int tracer__set_file(struct tracer *tracer, const struct dl_file *file, enum dl_file_state state)
{
	__u8 value = (__u8)state;

	if (bpf_map__update_elem(tracer->skel->maps.library_files, file, sizeof(*file), &value,
				 sizeof(value), BPF_ANY))
		return -errno;
	return 0;
}

int tracer__add_library(struct tracer *tracer, const struct library *lib)
{
	size_t group;
	int err;

	if (tracer->library_count == DL_MAX_LIBRARIES)
		return -ENOSPC;
	err = spec_group(tracer, lib, &group);
	if (!err)
		err = attach_target(tracer, tracer->library_count, group, -1, lib);
	if (err)
		return err;
	tracer->library_count++;
	return 0;
}

void tracer__unwatch(struct tracer *tracer)
{
	if (!tracer)
		return;
	bpf_link__destroy(tracer->watch);
	tracer->watch = NULL;
}

static double elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1e3 + (now.tv_nsec - since->tv_nsec) / 1e6;
}

/*
 * Load and attach everything, with uprobe_multi links or perf-event ones.
 * With multi, a failure that only says the kernel lacks uprobe_multi (at
 * load or at the first link) is -EOPNOTSUPP, unsaid.
 */
static struct tracer *open_tracer(const struct tracer_opts *opts, bool multi,
				  const struct timespec *start)
{
	struct tracer *tracer;
	__u8 one = 1;
	int err;

	tracer = calloc(1, sizeof(*tracer));
	if (!tracer) {
		err = -ENOMEM;
		goto cleanup;
	}
	tracer->on_record = opts->on_record;
	tracer->on_stack = opts->on_stack;
	tracer->ctx = opts->ctx;
	tracer->multi = multi;
	tracer->skel = devledger_bpf__open();
	if (!tracer->skel) {
		err = -errno;
		fprintf(stderr, "devledger: opening BPF programs: %s\n", strerror(-err));
		goto cleanup;
	}
	tracer->verbose = opts->verbose;
	tracer->skel->rodata->filter_pids = opts->mode != TRACER_SYSTEM;
	/* A launched command's children, and those a -p process forks after the attach. */
	tracer->skel->rodata->follow_children = opts->mode != TRACER_SYSTEM;
	err = bpf_map__set_max_entries(tracer->skel->maps.events,
				       opts->ring_bytes ? opts->ring_bytes : DEFAULT_RING_BYTES);
	if (err) {
		fprintf(stderr, "devledger: ring buffer size: %s\n", strerror(-err));
		goto cleanup;
	}
	if (opts->stack_bytes && opts->on_stack) {
		tracer->skel->rodata->stack_bytes = opts->stack_bytes;
		err = bpf_map__set_max_entries(tracer->skel->maps.stacks,
					       opts->stack_ring_bytes ? opts->stack_ring_bytes
								      : DEFAULT_STACK_RING_BYTES);
		if (err) {
			fprintf(stderr, "devledger: stack ring size: %s\n", strerror(-err));
			goto cleanup;
		}
	}
	if (multi) {
		bpf_program__set_expected_attach_type(tracer->skel->progs.probe,
						      UPROBE_MULTI_ATTACH_TYPE);
		bpf_program__set_expected_attach_type(tracer->skel->progs.probe_array,
						      UPROBE_MULTI_ATTACH_TYPE);
	}
	err = devledger_bpf__load(tracer->skel);
	if (err && multi) {
		err = -EOPNOTSUPP;
		goto cleanup;
	}
	if (err) {
		if (err == -EPERM || err == -EACCES)
			fprintf(stderr,
				"devledger: loading BPF programs: %s (run as root, or with "
				"CAP_BPF and CAP_PERFMON)\n",
				strerror(-err));
		else
			fprintf(stderr,
				"devledger: loading BPF programs: %s (run with -v for the "
				"verifier's log)\n",
				strerror(-err));
		goto cleanup;
	}

	for (size_t i = 0; opts->mode != TRACER_SYSTEM && i < opts->target_count; i++) {
		__u32 tgid = (__u32)opts->targets[i].pid;

		if (bpf_map__update_elem(tracer->skel->maps.tracked, &tgid, sizeof(tgid), &one,
					 sizeof(one), BPF_ANY)) {
			err = -errno;
			fprintf(stderr, "devledger: tracking process %d: %s\n", (int)tgid,
				strerror(-err));
			goto cleanup;
		}
	}
	for (size_t i = 0; i < opts->target_count; i++) {
		bool added = false;

		/* Targets may share a library (or map none yet): its probes go on once. */
		for (size_t j = 0; j < i; j++)
			added |= opts->targets[j].library == opts->targets[i].library;
		if (added || !opts->targets[i].library)
			continue;
		err = tracer__add_library(tracer, opts->targets[i].library);
		if (err == -EOPNOTSUPP && multi && !tracer->library_count)
			goto cleanup; /* no uprobe_multi: the caller tries perf-event links */
		if (err) {
			if (err == -ENOSPC || err == -EOPNOTSUPP)
				fprintf(stderr, "devledger: %s: %s\n", opts->targets[i].library->path,
					strerror(-err));
			goto cleanup;
		}
	}
	err = attach_tracepoints(tracer);
	if (err)
		goto cleanup;
	if (opts->verbose)
		fprintf(stderr, "devledger: %zu probes attached %s in %.1f ms\n",
			tracer->probe_count,
			multi ? "in uprobe_multi links" : "as perf-event uprobes",
			elapsed_ms(start));

	tracer->ring = ring_buffer__new(bpf_map__fd(tracer->skel->maps.events), handle_record,
					tracer, NULL);
	if (!tracer->ring) {
		err = -errno;
		fprintf(stderr, "devledger: ring buffer: %s\n", strerror(-err));
		goto cleanup;
	}
	if (tracer->skel->rodata->stack_bytes && (err = open_stack_ring(tracer))) {
		fprintf(stderr, "devledger: stack ring buffer: %s\n", strerror(-err));
		goto cleanup;
	}
	return tracer;

cleanup:
	tracer__free(tracer);
	errno = -err;
	return NULL;
}

struct tracer *tracer__open(const struct tracer_opts *opts)
{
	struct tracer *tracer = NULL;
	struct timespec start;
	int err = 0;

	libbpf_set_print(opts->verbose ? libbpf_print : libbpf_quiet);
	clock_gettime(CLOCK_MONOTONIC, &start);
	if (!opts->perf_uprobes) {
		tracer = open_tracer(opts, true, &start);
		if (!tracer && errno == EOPNOTSUPP && opts->verbose)
			fprintf(stderr, "devledger: no uprobe_multi (Linux 6.6 on): one "
					"perf-event uprobe per probe\n");
		err = tracer || errno == EOPNOTSUPP ? 0 : -errno;
	}
	/* Before 6.6, or asked for: each probe its own perf-event uprobe. */
	if (!err && !tracer) {
		tracer = open_tracer(opts, false, &start);
		err = tracer ? 0 : -errno;
	}
	errno = -err;
	return tracer;
}

int tracer__poll(struct tracer *tracer, int timeout_ms)
{
	int woken, drained;

	/* Records are submitted without a wake-up, so poll alone may see nothing: consume too. */
	woken = ring_buffer__poll(tracer->ring, timeout_ms);
	if (woken < 0 && woken != -EINTR)
		return woken;
	/* Samples whose records are still to come are unwound now, while their process runs. */
	if (tracer->stack_ring && (drained = ring_buffer__consume(tracer->stack_ring)) < 0)
		return drained;
	drained = ring_buffer__consume(tracer->ring);
	if (drained < 0)
		return drained;
	return (woken > 0 ? woken : 0) + drained;
}

int tracer__drain(struct tracer *tracer)
{
	int total = 0, n;

	while ((n = ring_buffer__consume(tracer->ring)) > 0)
		total += n;
	/* Samples of records that were lost: still a process's stacks, for its mappings. */
	if (n >= 0 && tracer->stack_ring && (n = ring_buffer__consume(tracer->stack_ring)) > 0)
		n = 0;
	return n < 0 ? n : total;
}

int tracer__stats(const struct tracer *tracer, struct dl_bpf_stats *stats)
{
	*stats = tracer->skel->bss->stats;
	return 0;
}

int tracer__hits(const struct tracer *tracer, uint64_t *hits, size_t count)
{
	int cpus = libbpf_num_possible_cpus();
	uint64_t *values;
	int fd = bpf_map__fd(tracer->skel->maps.probe_hits);

	if (cpus <= 0)
		return cpus ? cpus : -EINVAL;
	values = calloc((size_t)cpus, sizeof(*values));
	if (!values)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		hits[i] = 0;
		if (i >= DL_MAX_SPECS || bpf_map_lookup_elem(fd, &i, values))
			continue;
		for (int c = 0; c < cpus; c++)
			hits[i] += values[c];
	}
	free(values);
	return 0;
}

void tracer__print_hits(const struct tracer *tracer, FILE *out)
{
	uint64_t hits[PROBE_COUNT], total = 0;

	if (tracer__hits(tracer, hits, PROBE_COUNT))
		return;
	fprintf(out, "devledger: probe hits:");
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		if (!hits[i])
			continue;
		fprintf(out, " %s %llu,", probes[i].name, (unsigned long long)hits[i]);
		total += hits[i];
	}
	fprintf(out, " %llu in all\n", (unsigned long long)total);
}

void tracer__free(struct tracer *tracer)
{
	if (!tracer)
		return;
	tracer__unwatch(tracer);
	ring_buffer__free(tracer->stack_ring);
	ring_buffer__free(tracer->ring);
	for (size_t i = 0; i < tracer->link_fd_count; i++)
		close(tracer->link_fds[i]);
	free(tracer->link_fds);
	for (size_t i = 0; i < tracer->link_count; i++)
		bpf_link__destroy(tracer->links[i]);
	free(tracer->links);
	devledger_bpf__destroy(tracer->skel);
	free(tracer);
}
