/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The summary module: feed a ledger known records, write the JSON summary,
 * parse it back strictly and check every value; check the report's lines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ledger.h"
#include "summary.h"
#include "timeline.h"
#include "unit/selfstack.h"
#include "unwind.h"

/* CLOCK_MONOTONIC at the session's start, and a time that many milliseconds later. */
#define START_NS  1000000000000ull
#define AT_MS(ms) (START_NS + (uint64_t)(ms)*1000000ull)
/* 2026-11-24T18:56:56Z */
#define STARTED_AT 1795546616

struct fixture {
	struct ledger *ledger;
	struct summary_session session;
	char dir[64];
	char path[96];
};

static const uint32_t library_pids[] = { 4242, 4243 };
static const struct summary_library libraries[] = {
	{ "/opt/tt-metal/lib/libtt_metal.so", true, "era-b", library_pids, 2 },
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmpdir = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/test_summary.XXXXXX", tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/summary.json", f->dir);
	f->ledger = ledger__new(NULL);
	if (!f->ledger)
		return -1;
	f->session = (struct summary_session){
		.mode = "command",
		.libraries = libraries,
		.library_count = 1,
		.started_at = { .tv_sec = STARTED_AT, .tv_nsec = 250000000 },
		.start_ns = START_NS,
		.duration_s = 1.5,
		.events = 123,
		.lost_events = 0,
		.cpu_s = 0.25,
		.peak_rss_kib = 20480,
		.profile = "era-b",
		.layout_source = "dwarf",
	};
	*state = f;
	return 0;
}

/* Empties the test's folder (one level: the tests make nothing deeper) and removes it. */
static void remove_dir(const char *dir)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path))
			rmdir(path);
	}
	closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ledger__free(f->ledger);
	remove_dir(f->dir);
	free(f);
	return 0;
}

/* Feeding the ledger */

static void apply_event(struct fixture *f, uint32_t kind, uint32_t pid, uint64_t ts_ns,
			int32_t device_id, uint8_t mem_type, uint64_t address, uint64_t size,
			uint64_t object, uint8_t flags)
{
	struct dl_event e = {
		.kind = kind,
		.pid = pid,
		.ts_ns = ts_ns,
		.address = address,
		.size = size,
		.object = object,
		.device_id = device_id,
		.mem_type = mem_type,
		.flags = flags,
	};

	assert_int_equal(ledger__apply(f->ledger, &e, sizeof(e)), 0);
}

static void alloc(struct fixture *f, uint32_t pid, uint64_t ts, int32_t dev, uint8_t type,
		  uint64_t address, uint64_t size)
{
	apply_event(f, DL_EV_ALLOC, pid, ts, dev, type, address, size, 0, 0);
}

static void dealloc(struct fixture *f, uint32_t pid, uint64_t ts, int32_t dev, uint8_t type,
		    uint64_t address, uint64_t size)
{
	apply_event(f, DL_EV_FREE, pid, ts, dev, type, address, size, 0, 0);
}

static void cb_alloc(struct fixture *f, uint32_t pid, uint64_t ts, int32_t dev, uint64_t address,
		     uint64_t size, uint64_t program)
{
	apply_event(f, DL_EV_CB_ALLOC, pid, ts, dev, DL_MEM_CB, address, size, program, 0);
}

/* comm: DL_COMM_LEN bytes at most, any bytes, NUL-padded. */
static void process_exit(struct fixture *f, uint32_t pid, uint64_t ts, int status, const char *comm,
			 size_t comm_len)
{
	struct dl_exit_event e = {
		.kind = DL_EV_PROCESS_EXIT,
		.pid = pid,
		.ts_ns = ts,
		.exit_code = status,
	};

	assert_true(comm_len < DL_COMM_LEN);
	memcpy(e.comm, comm, comm_len);
	assert_int_equal(ledger__apply(f->ledger, &e, sizeof(e)), 0);
}

/* Records sent to pid 1000 by feed_known_process(). */
#define KNOWN_PID     1000
#define KNOWN_EVENTS  21
#define KNOWN_PROGRAM 0x5555aaaa0000ull

/*
 * One process that shows every fate: on device 0 a freed DRAM buffer, a
 * leaked DRAM buffer, an L1 buffer allocated before the session started and
 * leaked, three CBs released with their program, a hooked allocation, a free
 * of an unknown address and a double free; on device 3 two DRAM buffers
 * (36 KiB) still allocated when Device::close returned.
 */
static void feed_known_process(struct fixture *f)
{
	const uint32_t pid = KNOWN_PID;

	alloc(f, pid, START_NS - 5000000, 0, DL_MEM_L1, 0x20000, 2048);
	alloc(f, pid, AT_MS(100), 0, DL_MEM_DRAM, 0x1000, 4096);
	dealloc(f, pid, AT_MS(200), 0, DL_MEM_DRAM, 0x1000, 4096);
	alloc(f, pid, AT_MS(300), 0, DL_MEM_DRAM, 0x3ffff000, 24576);
	apply_event(f, DL_EV_ALLOC, pid, AT_MS(310), 0, DL_MEM_DRAM, 0, 8192, 0, DL_FLAG_HOOKED);
	dealloc(f, pid, AT_MS(320), 0, DL_MEM_DRAM, 0x9000, 1024);
	dealloc(f, pid, AT_MS(330), 0, DL_MEM_DRAM, 0x1000, 4096);
	cb_alloc(f, pid, AT_MS(400), 0, 101152, 4096, KNOWN_PROGRAM);
	cb_alloc(f, pid, AT_MS(401), 0, 105248, 4096, KNOWN_PROGRAM);
	cb_alloc(f, pid, AT_MS(402), 0, 109344, 2048, KNOWN_PROGRAM);
	apply_event(f, DL_EV_PROGRAM_DESTROYED, pid, AT_MS(500), 0, 0, 0, 0, KNOWN_PROGRAM, 0);
	alloc(f, pid, AT_MS(600), 3, DL_MEM_DRAM, 0x3ffff000, 24576);
	alloc(f, pid, AT_MS(601), 3, DL_MEM_DRAM, 0x3fff9000, 12288);
	apply_event(f, DL_EV_DEVICE_CLOSE, pid, AT_MS(699), 3, 0, 0, 0, 0, 0);
	apply_event(f, DL_EV_DEVICE_CLOSED, pid, AT_MS(700), -1, 0, 0, 0, 0, 0);
	alloc(f, pid, AT_MS(800), 5, DL_MEM_TRACE, 0x100, 512);
	dealloc(f, pid, AT_MS(810), 5, DL_MEM_TRACE, 0x100, 512);
	alloc(f, pid, AT_MS(820), 5, DL_MEM_L1_SMALL, 0x200, 64);
	dealloc(f, pid, AT_MS(830), 5, DL_MEM_L1_SMALL, 0x200, 64);
	alloc(f, pid, AT_MS(840), 5, DL_MEM_SYSTEM_MEMORY, 0x300, 128);
	process_exit(f, pid, AT_MS(1400), 0, "runner", 6);
}

/* Reading the summary back */

static char *read_file(const char *path, size_t *size)
{
	char *text = NULL;
	size_t n = 0;
	FILE *file = fopen(path, "r");

	assert_non_null(file);
	text = malloc(1 << 20);
	assert_non_null(text);
	n = fread(text, 1, (1 << 20) - 1, file);
	assert_false(ferror(file));
	fclose(file);
	text[n] = '\0';
	if (size)
		*size = n;
	return text;
}

/* Strict JSON and valid UTF-8, or the test fails. */
static struct json_object *parse_text(const char *text, size_t size)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root;

	assert_non_null(tok);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)size);
	if (json_tokener_get_error(tok) != json_tokener_success)
		fail_msg("summary is not valid JSON: %s",
			 json_tokener_error_desc(json_tokener_get_error(tok)));
	/* all of it read: in strict mode only whitespace may follow the document */
	assert_int_equal(json_tokener_get_parse_end(tok), size);
	assert_int_equal(text[size - 1], '\n');
	json_tokener_free(tok);
	assert_non_null(root);
	return root;
}

static struct json_object *write_and_parse(struct fixture *f, char **raw)
{
	struct json_object *root;
	size_t size;
	char *text;

	assert_int_equal(ledger__finish(f->ledger), 0);
	assert_int_equal(summary__write_json(f->ledger, &f->session, f->path), 0);
	text = read_file(f->path, &size);
	root = parse_text(text, size);
	if (raw)
		*raw = text;
	else
		free(text);
	return root;
}

/* "processes.0.devices.1.memory.DRAM": object keys and array indexes. */
static struct json_object *get(struct json_object *obj, const char *path)
{
	char buf[256], *part, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(obj, json_type_array)) {
			char *end;
			long i = strtol(part, &end, 10);

			if (*end || i < 0 || (size_t)i >= json_object_array_length(obj))
				fail_msg("%s: no element %s", path, part);
			obj = json_object_array_get_idx(obj, (size_t)i);
		} else if (!json_object_is_type(obj, json_type_object) ||
			   !json_object_object_get_ex(obj, part, &obj)) {
			fail_msg("%s: no member %s", path, part);
		}
	}
	return obj;
}

static void assert_uint_at(struct json_object *root, const char *path, uint64_t want)
{
	struct json_object *v = get(root, path);

	if (!json_object_is_type(v, json_type_int))
		fail_msg("%s is not an integer", path);
	if (json_object_get_uint64(v) != want)
		fail_msg("%s: got %llu, want %llu", path,
			 (unsigned long long)json_object_get_uint64(v), (unsigned long long)want);
}

static void assert_int_at(struct json_object *root, const char *path, int64_t want)
{
	struct json_object *v = get(root, path);

	if (!json_object_is_type(v, json_type_int))
		fail_msg("%s is not an integer", path);
	if (json_object_get_int64(v) != want)
		fail_msg("%s: got %lld, want %lld", path, (long long)json_object_get_int64(v),
			 (long long)want);
}

static void assert_string_at(struct json_object *root, const char *path, const char *want)
{
	struct json_object *v = get(root, path);

	if (!json_object_is_type(v, json_type_string))
		fail_msg("%s is not a string", path);
	assert_string_equal(json_object_get_string(v), want);
}

/* A number: its value and the text it was written as ("0.300"). */
static void assert_seconds_at(struct json_object *root, const char *path, double want,
			      const char *text)
{
	struct json_object *v = get(root, path);

	if (!json_object_is_type(v, json_type_double))
		fail_msg("%s is not a number with decimals", path);
	assert_true(json_object_get_double(v) == want);
	assert_string_equal(json_object_to_json_string(v), text);
}

static void assert_length_at(struct json_object *root, const char *path, size_t want)
{
	struct json_object *v = get(root, path);

	if (!json_object_is_type(v, json_type_array))
		fail_msg("%s is not an array", path);
	assert_int_equal(json_object_array_length(v), want);
}

/* The keys of an object, in order, joined by commas. */
static void assert_keys_at(struct json_object *root, const char *path, const char *want)
{
	struct json_object *obj = get(root, path);
	char keys[256] = "";

	assert_true(json_object_is_type(obj, json_type_object));
	json_object_object_foreach(obj, key, value)
	{
		(void)value;
		if (keys[0])
			strcat(keys, ",");
		strcat(keys, key);
	}
	assert_string_equal(keys, want);
}

static void assert_stats_at(struct json_object *root, const char *path,
			    const struct ledger_stats *want)
{
	const struct {
		const char *key;
		uint64_t value;
	} fields[] = {
		{ "live_bytes", want->live_bytes },
		{ "peak_bytes", want->peak_bytes },
		{ "live_count", want->live_count },
		{ "allocs", want->allocs },
		{ "frees", want->frees },
		{ "untracked_frees", want->untracked_frees },
		{ "untracked_bytes", want->untracked_bytes },
		{ "leaks", want->leaks },
		{ "leaked_bytes", want->leaked_bytes },
	};
	char field[256];

	assert_keys_at(
		root, path,
		"live_bytes,peak_bytes,live_count,allocs,frees,untracked_frees,untracked_bytes,leaks,leaked_bytes");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		snprintf(field, sizeof(field), "%s.%s", path, fields[i].key);
		assert_uint_at(root, field, fields[i].value);
	}
}

/* One list entry as "device,type,address,size,reason-or-seconds". */
static void assert_record_at(struct json_object *root, const char *path, const char *want)
{
	struct json_object *item = get(root, path);
	char got[256];
	int n;

	n = snprintf(got, sizeof(got), "%lld,%s,%llu",
		     (long long)json_object_get_int64(get(item, "device_id")),
		     json_object_get_string(get(item, "type")),
		     (unsigned long long)json_object_get_uint64(get(item, "address")));
	if (json_object_object_get_ex(item, "size", NULL))
		n += snprintf(got + n, sizeof(got) - n, ",%llu",
			      (unsigned long long)json_object_get_uint64(get(item, "size")));
	if (json_object_object_get_ex(item, "reason", NULL))
		n += snprintf(got + n, sizeof(got) - n, ",%s",
			      json_object_get_string(get(item, "reason")));
	if (json_object_object_get_ex(item, "allocated_at_s", NULL))
		snprintf(got + n, sizeof(got) - n, ",%s",
			 json_object_to_json_string(get(item, "allocated_at_s")));
	assert_string_equal(got, want);
}


/* Tests: the JSON summary */

static void test_session(void **state)
{
	struct fixture *f = *state;
	struct json_object *root;
	char *raw;

	alloc(f, 7, AT_MS(1), 0, DL_MEM_DRAM, 0x1000, 4096);
	root = write_and_parse(f, &raw);

	assert_keys_at(root, "", "schema,devledger_version,session,totals,processes");
	assert_string_at(root, "schema", "devledger.summary.v1");
	assert_string_at(root, "devledger_version", DEVLEDGER_VERSION);
	assert_keys_at(root, "session",
		       "mode,libraries,profile,layout_source,warnings,started_at,duration_s,"
		       "events,lost_events,rejected_events,exact,cpu_s,peak_rss_kib,stacks");
	/* No stacks taken: null. */
	assert_null(get(root, "session.stacks"));
	assert_uint_at(root, "session.rejected_events", 0);
	assert_length_at(root, "session.warnings", 0);
	assert_string_equal(json_object_get_string(get(root, "session.layout_source")), "dwarf");
	assert_string_equal(json_object_get_string(get(root, "session.profile")), "era-b");
	assert_string_at(root, "session.mode", "command");
	assert_length_at(root, "session.libraries", 1);
	assert_string_at(root, "session.libraries.0.path", "/opt/tt-metal/lib/libtt_metal.so");
	assert_true(json_object_get_boolean(get(root, "session.libraries.0.probed")));
	assert_string_at(root, "session.libraries.0.profile", "era-b");
	assert_length_at(root, "session.libraries.0.pids", 2);
	assert_int_at(root, "session.libraries.0.pids.1", 4243);
	assert_string_at(root, "session.started_at", "2026-11-24T18:56:56Z");
	assert_seconds_at(root, "session.duration_s", 1.5, "1.500");
	assert_seconds_at(root, "session.cpu_s", 0.25, "0.250");
	assert_int_equal(json_object_get_int64(get(root, "session.peak_rss_kib")), 20480);
	assert_uint_at(root, "session.events", 123);
	assert_uint_at(root, "session.lost_events", 0);
	assert_true(json_object_is_type(get(root, "session.exact"), json_type_boolean));
	assert_true(json_object_get_boolean(get(root, "session.exact")));
	/* pretty-printed, slashes not escaped */
	assert_non_null(strstr(raw, "\n  \"session\":{\n    \"mode\":\"command\",\n"));
	assert_non_null(strstr(raw, "\"/opt/tt-metal/lib/libtt_metal.so\""));
	free(raw);
	json_object_put(root);
}

static void test_session_inexact(void **state)
{
	struct fixture *f = *state;
	struct json_object *root;

	f->session.mode = "system";
	f->session.library_count = 0;
	f->session.lost_events = 5;
	f->session.events = UINT64_MAX;
	f->session.duration_s = 12.3456;
	root = write_and_parse(f, NULL);

	assert_string_at(root, "session.mode", "system");
	assert_length_at(root, "session.libraries", 0);
	assert_uint_at(root, "session.lost_events", 5);
	/* 64-bit counters come out exact */
	assert_uint_at(root, "session.events", UINT64_MAX);
	assert_seconds_at(root, "session.duration_s", 12.346, "12.346");
	assert_false(json_object_get_boolean(get(root, "session.exact")));
	assert_length_at(root, "processes", 0);
	json_object_put(root);
}

static char *capture_report(struct fixture *f);
static void assert_contains(const char *text, const char *want);

/* Call stacks: stacks of the test's own code, named by the ledger's stack tags */

/* Named frames above capture(); the barrier keeps each call a call. */
static __attribute__((noinline)) void leaking_site(void)
{
	capture(SAMPLE_BYTES);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void closing_site(void)
{
	capture(SAMPLE_BYTES);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void released_site(void)
{
	capture(SAMPLE_BYTES);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) uint32_t sample_stack(struct unwind *unwind, void (*site)(void))
{
	site();
	assert_int_equal(unwind__add_sample(unwind, sample, sizeof(*sample) + sample->bytes),
			 0);
	return unwind__stack_of(unwind, sample->sequence);
}

static void apply_tagged(struct fixture *f, uint32_t kind, uint64_t ts, int32_t device,
			 uint8_t type, uint64_t address, uint64_t size, uint32_t stack)
{
	struct dl_event e = { .kind = kind,
			      .pid = 7,
			      .tid = 7,
			      .ts_ns = ts,
			      .address = address,
			      .size = size,
			      .device_id = device,
			      .mem_type = type };

	assert_int_equal(ledger__apply_with_stack(f->ledger, &e, sizeof(e), stack), 0);
}

/*
 * Entries carry their stacks by id, the process lists each stack once with
 * its frames symbolized (innermost first), its sites worst first; the report
 * groups by site and marks the first frame outside the traced library.
 */
static void test_stacks(void **state)
{
	struct fixture *f = *state;
	struct unwind *unwind = unwind__new(NULL);
	uint32_t leaking, released, closing;
	struct json_object *root;
	char *text;

	assert_non_null(unwind);
	leaking = sample_stack(unwind, leaking_site);
	released = sample_stack(unwind, released_site);
	closing = sample_stack(unwind, closing_site);
	assert_true(leaking && released && closing && leaking != released && released != closing);
	apply_tagged(f, DL_EV_ALLOC, AT_MS(1), 0, DL_MEM_DRAM, 0x1000, 8192, leaking);
	apply_tagged(f, DL_EV_ALLOC, AT_MS(2), 0, DL_MEM_L1, 0x2000, 1024, released);
	apply_tagged(f, DL_EV_ALLOC, AT_MS(3), 0, DL_MEM_L1, 0x3000, 2048, released);
	apply_tagged(f, DL_EV_FREE, AT_MS(4), 0, DL_MEM_L1, 0x3000, 0, 0);
	apply_tagged(f, DL_EV_DEVICE_CLOSE, AT_MS(5), 1, 0, 0, 0, closing);
	apply_tagged(f, DL_EV_DEVICE_CLOSED, AT_MS(6), -1, 0, 0, 0, 0);
	apply_tagged(f, DL_EV_DEVICE_CLOSE, AT_MS(7), 0, 0, 0, 0, closing);
	apply_tagged(f, DL_EV_ALLOCATOR_CLEAR, AT_MS(7), 0, 0, 0, 0, 0);
	apply_tagged(f, DL_EV_ALLOCATOR_CLEAR_END, AT_MS(7), 0, 0, 0, 0, 0);
	apply_tagged(f, DL_EV_DEVICE_CLOSED, AT_MS(8), -1, 0, 0, 0, 0);
	apply_tagged(f, DL_EV_ALLOC, AT_MS(9), 0, DL_MEM_DRAM, 0x1000, 4096, leaking);
	process_exit(f, 7, AT_MS(10), 0, "stacks", 6);
	f->session.stacks = unwind;
	f->session.stack_bytes = 8192;
	f->session.stack_frames = 2;
	root = write_and_parse(f, NULL);

	assert_uint_at(root, "processes.0.leaks.0.stack", leaking);
	assert_false(json_object_object_get_ex(get(root, "processes.0.leaks.0"), "release_stack",
					       NULL));
	assert_uint_at(root, "processes.0.untracked_frees.0.stack", leaking);
	assert_uint_at(root, "processes.0.untracked_frees.0.release_stack", closing);
	assert_uint_at(root, "processes.0.untracked_frees.1.stack", released);
	assert_uint_at(root, "processes.0.untracked_frees.1.release_stack", closing);
	/* Each stack once, by id; frames innermost first, in this file. */
	assert_length_at(root, "processes.0.stacks", 3);
	assert_uint_at(root, "processes.0.stacks.0.id", leaking);
	/* capture(), or a clone of it the compiler made ("capture.constprop.0"). */
	assert_int_equal(strncmp(json_object_get_string(
					 get(root, "processes.0.stacks.0.frames.0.function")),
				 "capture", 7),
			 0);
	assert_true(json_object_get_uint64(get(root, "processes.0.stacks.0.frames.0.address")) ==
		    json_object_get_uint64(get(root, "processes.0.stacks.1.frames.0.address")));
	assert_string_at(root, "processes.0.stacks.0.frames.1.function", "leaking_site");
	assert_string_at(root, "processes.0.stacks.0.frames.2.function", "sample_stack");
	assert_string_at(root, "processes.0.stacks.1.frames.1.function", "released_site");
	assert_string_at(root, "processes.0.stacks.2.frames.1.function", "closing_site");
	assert_non_null(strstr(json_object_get_string(get(root, "processes.0.stacks.0.frames.1.file")),
			       "test_summary.c"));
	assert_non_null(strstr(json_object_get_string(get(root, "processes.0.stacks.0.frames.1.module")),
			       "test_summary"));
	/* Sites, worst first: 4 KiB leaked and 8 KiB released untracked, then 1 KiB untracked. */
	assert_length_at(root, "processes.0.sites", 2);
	assert_uint_at(root, "processes.0.sites.0.stack", leaking);
	assert_uint_at(root, "processes.0.sites.0.allocs", 2);
	assert_uint_at(root, "processes.0.sites.0.peak_bytes", 8192);
	assert_uint_at(root, "processes.0.sites.0.leaks", 1);
	assert_uint_at(root, "processes.0.sites.0.leaked_bytes", 4096);
	assert_uint_at(root, "processes.0.sites.0.untracked_bytes", 8192);
	assert_uint_at(root, "processes.0.sites.1.stack", released);
	assert_uint_at(root, "processes.0.sites.1.allocs", 2);
	assert_uint_at(root, "processes.0.sites.1.peak_bytes", 3072);
	assert_uint_at(root, "processes.0.sites.1.untracked_frees", 1);
	assert_uint_at(root, "processes.0.sites.1.untracked_bytes", 1024);
	assert_uint_at(root, "session.stacks.samples", 3);
	assert_uint_at(root, "session.stacks.unique", 3);
	assert_uint_at(root, "session.stacks.stack_bytes", 8192);
	json_object_put(root);

	text = capture_report(f);
	assert_contains(text, "  by allocating site (2 sites):\n");
	assert_contains(text, "   site 1: 1 leak, 4.0 KiB; 1 untracked free, 8.0 KiB; 2 allocations\n");
	/* Not in the traced library: the first frame is the user's. */
	assert_contains(text, "    => #0  capture");
	assert_contains(text, "       #1  leaking_site+0x");
	/* --stack-frames 2: no third frame. */
	if (strstr(text, "#2  sample_stack"))
		fail_msg("more frames than asked for:\n%s", text);
	/* Released by the first frame of the close's stack; no library frame to skip here. */
	assert_contains(text, "      released by capture");
	free(text);
	f->session.stacks = NULL;
	unwind__free(unwind);
}

/* Who a process was: argv as UTF-8 strings (bad bytes repaired), its parent, its start. */
static void test_identity(void **state)
{
	static const char argv[] = "python3\0-m\0pytest\0bad\xff\0";
	struct fixture *f = *state;
	struct json_object *root;
	char *text;

	alloc(f, 7, AT_MS(1), 0, DL_MEM_DRAM, 0x1000, 4096);
	assert_int_equal(ledger__set_identity(f->ledger, 7, 6, 1795000000.0, argv, sizeof(argv) - 1),
			 0);
	assert_int_equal(ledger__set_identity(f->ledger, 99, 6, 0, argv, 4), -ENOENT);
	root = write_and_parse(f, NULL);
	assert_length_at(root, "processes.0.cmdline", 4);
	assert_string_at(root, "processes.0.cmdline.0", "python3");
	assert_string_at(root, "processes.0.cmdline.2", "pytest");
	assert_string_at(root, "processes.0.cmdline.3", "bad\xef\xbf\xbd");
	assert_int_equal(json_object_get_int64(get(root, "processes.0.ppid")), 6);
	assert_string_at(root, "processes.0.started_at", "2026-11-18T11:06:40Z");
	json_object_put(root);
	text = capture_report(f);
	assert_contains(text, "  command: python3 -m pytest bad\\xff (parent 6)\n");
	free(text);
}

/* The verdict in one object: every process's leaks, untracked and unmatched frees added up. */
static void test_totals(void **state)
{
	struct fixture *f = *state;
	struct json_object *root;

	alloc(f, 7, AT_MS(1), 0, DL_MEM_DRAM, 0x1000, 4096);
	alloc(f, 7, AT_MS(1), 1, DL_MEM_L1, 0x2000, 512);
	cb_alloc(f, 7, AT_MS(2), 0, 101152, 2048, 0xA);
	dealloc(f, 7, AT_MS(3), 0, DL_MEM_DRAM, 0x9000, 0); /* matches nothing */
	process_exit(f, 7, AT_MS(4), 0, "a", 1);
	alloc(f, 8, AT_MS(5), 0, DL_MEM_DRAM, 0x1000, 8192);
	process_exit(f, 8, AT_MS(6), 0, "b", 1);
	root = write_and_parse(f, NULL);
	assert_keys_at(root, "totals",
		       "processes,leaks,leaked_bytes,untracked_frees,untracked_bytes,unmatched_frees");
	assert_uint_at(root, "totals.processes", 2);
	assert_uint_at(root, "totals.leaks", 4);
	assert_uint_at(root, "totals.leaked_bytes", 4096 + 512 + 2048 + 8192);
	assert_uint_at(root, "totals.untracked_frees", 0);
	assert_uint_at(root, "totals.unmatched_frees", 1);
	json_object_put(root);
}

/* What the session could not see makes it inexact with nothing lost, and is said. */
static void test_session_warnings(void **state)
{
	static const char *const warnings[] = { "ProgramImpl::allocate_dataflow_buffers ran 2 "
						"times, and what it laid out could not be read" };
	struct fixture *f = *state;
	struct json_object *root;
	char *text;

	f->session.warnings = warnings;
	f->session.warning_count = 1;
	root = write_and_parse(f, NULL);
	assert_uint_at(root, "session.lost_events", 0);
	assert_false(json_object_get_boolean(get(root, "session.exact")));
	assert_length_at(root, "session.warnings", 1);
	assert_string_at(root, "session.warnings.0", warnings[0]);
	json_object_put(root);
	text = capture_report(f);
	assert_contains(text, "WARNING: ProgramImpl::allocate_dataflow_buffers ran 2 times");
	assert_contains(text, "(inexact: see the warnings above)");
	free(text);
}

static void test_exit_states(void **state)
{
	struct fixture *f = *state;
	struct json_object *root, *exit;

	/* fed out of order: the summary lists processes by pid */
	assert_int_equal(ledger__add_process(f->ledger, 300), 0);
	process_exit(f, 200, AT_MS(5), 9, "killed", 6);
	process_exit(f, 100, AT_MS(6), 3 << 8, "coded", 5);
	root = write_and_parse(f, NULL);

	assert_length_at(root, "processes", 3);
	assert_int_at(root, "processes.0.pid", 100);
	assert_string_at(root, "processes.0.comm", "coded");
	assert_keys_at(root, "processes.0.exit", "code");
	assert_int_at(root, "processes.0.exit.code", 3);
	assert_int_at(root, "processes.1.pid", 200);
	assert_keys_at(root, "processes.1.exit", "signal");
	assert_int_at(root, "processes.1.exit.signal", 9);
	assert_int_at(root, "processes.2.pid", 300);
	assert_true(json_object_object_get_ex(get(root, "processes.2"), "exit", &exit));
	assert_null(exit);
	assert_keys_at(
		root, "processes.2",
		"pid,comm,cmdline,ppid,started_at,exit,events,hooked_allocations,unattributed_frees,"
		"dropped_allocations,devices,chips,untracked_frees,leaks,unmatched_frees,live");
	/* Nothing known of who it was: null, not made up. */
	assert_true(json_object_is_type(get(root, "processes.0.cmdline"), json_type_null));
	assert_true(json_object_is_type(get(root, "processes.0.ppid"), json_type_null));
	assert_length_at(root, "processes.2.devices", 0);
	json_object_put(root);
}

static void test_known_process(void **state)
{
	struct fixture *f = *state;
	struct json_object *root;

	feed_known_process(f);
	root = write_and_parse(f, NULL);

	assert_length_at(root, "processes", 1);
	assert_int_at(root, "processes.0.pid", KNOWN_PID);
	assert_string_at(root, "processes.0.comm", "runner");
	assert_int_at(root, "processes.0.exit.code", 0);
	assert_uint_at(root, "processes.0.events", KNOWN_EVENTS);
	assert_uint_at(root, "processes.0.hooked_allocations", 1);

	assert_length_at(root, "processes.0.devices", 3);
	assert_int_at(root, "processes.0.devices.0.device_id", 0);
	assert_int_at(root, "processes.0.devices.1.device_id", 3);
	assert_int_at(root, "processes.0.devices.2.device_id", 5);
	assert_keys_at(root, "processes.0.devices.0", "device_id,kind,memory");
	assert_string_at(root, "processes.0.devices.0.kind", "chip");
	assert_uint_at(root, "processes.0.unattributed_frees", 0);
	/* only the types a device used, in BufferType order, CB last */
	assert_keys_at(root, "processes.0.devices.0.memory", "DRAM,L1,CB");
	assert_keys_at(root, "processes.0.devices.1.memory", "DRAM");
	assert_keys_at(root, "processes.0.devices.2.memory", "SYSTEM_MEMORY,L1_SMALL,TRACE");

	assert_stats_at(root, "processes.0.devices.0.memory.DRAM",
			&(struct ledger_stats){ .peak_bytes = 24576,
						.allocs = 2,
						.frees = 1,
						.leaks = 1,
						.leaked_bytes = 24576 });
	assert_stats_at(
		root, "processes.0.devices.0.memory.L1",
		&(struct ledger_stats){
			.peak_bytes = 2048, .allocs = 1, .leaks = 1, .leaked_bytes = 2048 });
	assert_stats_at(root, "processes.0.devices.0.memory.CB",
			&(struct ledger_stats){ .peak_bytes = 10240,
						.allocs = 3,
						.untracked_frees = 3,
						.untracked_bytes = 10240 });
	assert_stats_at(root, "processes.0.devices.1.memory.DRAM",
			&(struct ledger_stats){ .peak_bytes = 36864,
						.allocs = 2,
						.untracked_frees = 2,
						.untracked_bytes = 36864 });
	assert_stats_at(root, "processes.0.devices.2.memory.TRACE",
			&(struct ledger_stats){ .peak_bytes = 512, .allocs = 1, .frees = 1 });
	assert_stats_at(root, "processes.0.devices.2.memory.L1_SMALL",
			&(struct ledger_stats){ .peak_bytes = 64, .allocs = 1, .frees = 1 });
	assert_stats_at(root, "processes.0.devices.2.memory.SYSTEM_MEMORY",
			&(struct ledger_stats){
				.peak_bytes = 128, .allocs = 1, .leaks = 1, .leaked_bytes = 128 });

	/* lists sorted by (device, type, address) */
	assert_length_at(root, "processes.0.untracked_frees", 5);
	assert_keys_at(root, "processes.0.untracked_frees.0",
		       "device_id,device_kind,type,address,size,reason");
	assert_record_at(root, "processes.0.untracked_frees.0",
			 "0,CB,101152,4096,program_destroyed");
	assert_record_at(root, "processes.0.untracked_frees.1",
			 "0,CB,105248,4096,program_destroyed");
	assert_record_at(root, "processes.0.untracked_frees.2",
			 "0,CB,109344,2048,program_destroyed");
	assert_record_at(root, "processes.0.untracked_frees.3",
			 "3,DRAM,1073713152,12288,device_closed");
	assert_record_at(root, "processes.0.untracked_frees.4",
			 "3,DRAM,1073737728,24576,device_closed");

	assert_length_at(root, "processes.0.leaks", 3);
	assert_keys_at(root, "processes.0.leaks.0",
		       "device_id,device_kind,type,address,size,allocated_at_s");
	assert_record_at(root, "processes.0.leaks.0", "0,DRAM,1073737728,24576,0.300");
	/* allocated before the session started: 0 */
	assert_record_at(root, "processes.0.leaks.1", "0,L1,131072,2048,0.000");
	assert_record_at(root, "processes.0.leaks.2", "5,SYSTEM_MEMORY,768,128,0.840");
	assert_seconds_at(root, "processes.0.leaks.0.allocated_at_s", 0.3, "0.300");
	assert_seconds_at(root, "processes.0.leaks.1.allocated_at_s", 0, "0.000");

	assert_length_at(root, "processes.0.unmatched_frees", 2);
	assert_keys_at(root, "processes.0.unmatched_frees.0",
		       "device_id,device_kind,type,address,reason");
	assert_record_at(root, "processes.0.unmatched_frees.0", "0,DRAM,4096,double_free");
	assert_record_at(root, "processes.0.unmatched_frees.1", "0,DRAM,36864,unknown_address");

	/* exited: nothing is live any more */
	assert_length_at(root, "processes.0.live", 0);
	json_object_put(root);
}

static void test_running_process_live(void **state)
{
	struct fixture *f = *state;
	struct json_object *root;

	alloc(f, 2000, AT_MS(1234), 1, DL_MEM_TRACE, 0x500, 1000);
	alloc(f, 2000, AT_MS(2), 0, DL_MEM_L1_SMALL, 0x40, 64);
	alloc(f, 2000, AT_MS(3), 0, DL_MEM_L1_SMALL, 0x80, 32);
	dealloc(f, 2000, AT_MS(4), 0, DL_MEM_L1_SMALL, 0x80, 32);
	/* a size above 2^53 must not pass through a double */
	alloc(f, 2000, AT_MS(5), 1, DL_MEM_TRACE, 0x20000000000000ull, 0x20000000000001ull);
	/* rounded to the nearest millisecond */
	alloc(f, 2000, START_NS + 299999999, 1, DL_MEM_TRACE, 0x600, 8);
	assert_int_equal(ledger__set_comm(f->ledger, 2000, "serve"), 0);
	root = write_and_parse(f, NULL);

	assert_string_at(root, "processes.0.comm", "serve");
	assert_null(get(root, "processes.0.exit"));
	assert_int_at(root, "processes.0.devices.0.device_id", 0);
	assert_keys_at(root, "processes.0.devices.0.memory", "L1_SMALL");
	assert_keys_at(root, "processes.0.devices.1.memory", "TRACE");
	assert_stats_at(root, "processes.0.devices.0.memory.L1_SMALL",
			&(struct ledger_stats){ .live_bytes = 64,
						.peak_bytes = 96,
						.live_count = 1,
						.allocs = 2,
						.frees = 1 });
	assert_uint_at(root, "processes.0.devices.1.memory.TRACE.live_bytes",
		       0x20000000000001ull + 1008);
	assert_length_at(root, "processes.0.leaks", 0);
	assert_length_at(root, "processes.0.live", 4);
	assert_keys_at(root, "processes.0.live.0",
		       "device_id,device_kind,type,address,size,allocated_at_s");
	assert_record_at(root, "processes.0.live.0", "0,L1_SMALL,64,64,0.002");
	assert_record_at(root, "processes.0.live.1", "1,TRACE,1280,1000,1.234");
	assert_record_at(root, "processes.0.live.2", "1,TRACE,1536,8,0.300");
	assert_record_at(root, "processes.0.live.3",
			 "1,TRACE,9007199254740992,9007199254740993,0.005");
	json_object_put(root);
}

static void test_comm_escaped_and_valid_utf8(void **state)
{
	struct fixture *f = *state;
	struct json_object *root;
	char *raw;

	process_exit(f, 1, AT_MS(1), 0, "a\x01\n\t\"b/", 7);
	/* lone 0xff, overlong C0 AF, truncated E2 82 */
	process_exit(f, 2, AT_MS(1), 0, "x\xffy\xc0\xafz\xe2\x82", 9);
	/* surrogate ED A0 80, then a valid euro sign */
	process_exit(f, 3, AT_MS(1), 0, "\xed\xa0\x80ok\xe2\x82\xac", 8);
	/* valid U+1F600, then F4 90 80 80 beyond U+10FFFF */
	process_exit(f, 4, AT_MS(1), 0, "\xf0\x9f\x98\x80\xf4\x90\x80\x80", 8);
	/* overlong 3- and 4-byte forms */
	process_exit(f, 5, AT_MS(1), 0, "\xe0\x80\x80\xf0\x80\x80\x80", 7);
	/* valid 2-byte (U+00E9), then a continuation byte on its own */
	process_exit(f, 6, AT_MS(1), 0, "\xc3\xa9\x80\x7f", 4);
	root = write_and_parse(f, &raw);

	assert_string_at(root, "processes.0.comm", "a\x01\n\t\"b/");
	assert_non_null(strstr(raw, "\"comm\":\"a\\u0001\\n\\t\\\"b/\""));
	assert_string_at(root, "processes.1.comm",
			 "x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_at(root, "processes.2.comm",
			 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdok\xe2\x82\xac");
	assert_string_at(root, "processes.3.comm",
			 "\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_string_at(root, "processes.4.comm",
			 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			 "\xef\xbf\xbd");
	assert_string_at(root, "processes.5.comm", "\xc3\xa9\xef\xbf\xbd\x7f");
	free(raw);
	json_object_put(root);
}

/* Tests: writing the file */

static size_t dir_entries(const char *dir, char *names, size_t size)
{
	struct dirent *e;
	size_t n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	names[0] = '\0';
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(names + strlen(names), size - strlen(names), "%s%s", n ? "," : "",
			 e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* What one process gets when it is handed out: itself alone, whole, in the summary's schema. */
static void on_release_write(void *ctx, const struct ledger_process *p)
{
	struct fixture *f = ctx;

	assert_int_equal(summary__write_process_json(f->ledger, p, &f->session, f->path), 0);
}

static void test_process_summary(void **state)
{
	struct fixture *f = *state;
	struct json_object *root;
	char names[256], *text;
	size_t size;

	alloc(f, 7, AT_MS(1), 0, DL_MEM_DRAM, 0x2000, 4096);
	alloc(f, 7, AT_MS(1), 0, DL_MEM_DRAM, 0x1000, 100);
	dealloc(f, 7, AT_MS(3), 0, DL_MEM_DRAM, 0x9000, 0); /* matches nothing */
	alloc(f, 8, AT_MS(5), 0, DL_MEM_DRAM, 0x1000, 8192); /* still running */
	process_exit(f, 7, AT_MS(4), 0, "a", 1);
	assert_int_equal(ledger__release_exited(f->ledger, on_release_write, f), 1);

	assert_int_equal(dir_entries(f->dir, names, sizeof(names)), 1);
	text = read_file(f->path, &size);
	root = parse_text(text, size);
	assert_string_equal(json_object_get_string(get(root, "schema")), "devledger.summary.v1");
	assert_uint_at(root, "totals.processes", 1);
	assert_uint_at(root, "totals.leaks", 2);
	assert_uint_at(root, "totals.leaked_bytes", 4196);
	assert_uint_at(root, "totals.unmatched_frees", 1);
	assert_int_equal(json_object_array_length(get(root, "processes")), 1);
	assert_int_at(root, "processes.0.pid", 7);
	assert_int_at(root, "processes.0.exit.code", 0);
	/* sorted by address */
	assert_uint_at(root, "processes.0.leaks.0.address", 0x1000);
	assert_uint_at(root, "processes.0.leaks.1.address", 0x2000);
	assert_int_equal(json_object_array_length(get(root, "processes.0.live")), 0);
	assert_true(json_object_get_boolean(get(root, "session.exact")));
	json_object_put(root);
	free(text);
}

static void test_write_replaces_whole_file(void **state)
{
	struct fixture *f = *state;
	struct json_object *root;
	struct stat st;
	char names[256], *text;
	size_t size;
	mode_t old_mask;
	FILE *old;

	old = fopen(f->path, "w");
	assert_non_null(old);
	fputs("previous summary, much longer than nothing at all ................", old);
	fclose(old);

	old_mask = umask(022);
	alloc(f, 7, AT_MS(1), 0, DL_MEM_DRAM, 0x1000, 4096);
	assert_int_equal(ledger__finish(f->ledger), 0);
	assert_int_equal(summary__write_json(f->ledger, &f->session, f->path), 0);
	umask(old_mask);

	/* the temporary file was renamed into place: nothing else in the folder */
	assert_int_equal(dir_entries(f->dir, names, sizeof(names)), 1);
	assert_string_equal(names, "summary.json");
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	text = read_file(f->path, &size);
	root = parse_text(text, size);
	assert_int_at(root, "processes.0.pid", 7);
	json_object_put(root);
	free(text);
}

static void test_write_failures_leave_nothing(void **state)
{
	struct fixture *f = *state;
	char path[160], names[256];

	assert_int_equal(ledger__finish(f->ledger), 0);

	snprintf(path, sizeof(path), "%s/missing/summary.json", f->dir);
	assert_int_equal(summary__write_json(f->ledger, &f->session, path), -ENOENT);
	assert_int_equal(dir_entries(f->dir, names, sizeof(names)), 0);

	/* the rename fails (a folder is in the way): the temporary file goes */
	snprintf(path, sizeof(path), "%s/taken", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(summary__write_json(f->ledger, &f->session, path), -EISDIR);
	assert_int_equal(dir_entries(f->dir, names, sizeof(names)), 1);
	assert_string_equal(names, "taken");

	assert_int_equal(summary__write_json(f->ledger, &f->session, ""), -EINVAL);
	assert_int_equal(summary__write_json(NULL, &f->session, f->path), -EINVAL);
	assert_int_equal(summary__print_report(f->ledger, NULL, stdout), -EINVAL);
	assert_int_equal(summary__print_live(f->ledger, &f->session, NULL), -EINVAL);
}

/* What would fail at the end of a session is found before it starts, and leaves nothing behind. */
static void test_check_path(void **state)
{
	struct fixture *f = *state;
	char path[512], why[512], names[256];

	assert_int_equal(summary__check_path("-", why, sizeof(why)), 0);
	assert_int_equal(summary__check_path(f->path, why, sizeof(why)), 0);
	assert_int_equal(dir_entries(f->dir, names, sizeof(names)), 0);
	snprintf(path, sizeof(path), "%s/missing/summary.json", f->dir);
	assert_int_equal(summary__check_path(path, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "does not exist"));
	snprintf(path, sizeof(path), "%s/taken", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(summary__check_path(path, why, sizeof(why)), -EISDIR);
	assert_string_equal(why, "is a folder: name a file in it");
	/* 250 bytes: a valid name, but not with the temporary file's suffix. */
	snprintf(path, sizeof(path), "%s/%0250d", f->dir, 0);
	assert_int_equal(summary__check_path(path, why, sizeof(why)), -ENAMETOOLONG);
	assert_string_equal(why, "the name is too long (at most 248 bytes)");
	assert_int_equal(summary__check_path("", why, sizeof(why)), -EINVAL);
	assert_int_equal(dir_entries(f->dir, names, sizeof(names)), 1);
	assert_string_equal(names, "taken");
}

static void test_write_stdout(void **state)
{
	struct fixture *f = *state;
	struct json_object *root;
	int saved, fd, err;
	size_t size;
	char *text;

	process_exit(f, 9, AT_MS(1), 0, "dash", 4);
	assert_int_equal(ledger__finish(f->ledger), 0);
	fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	err = summary__write_json(f->ledger, &f->session, "-");
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	assert_int_equal(err, 0);

	text = read_file(f->path, &size);
	root = parse_text(text, size);
	assert_string_at(root, "processes.0.comm", "dash");
	json_object_put(root);
	free(text);
}

static void test_write_stdout_error(void **state)
{
	struct fixture *f = *state;
	int saved, fd, err;

	assert_int_equal(ledger__finish(f->ledger), 0);
	/* /dev/full fails every write with ENOSPC: the error comes back, not printed */
	fd = open("/dev/full", O_WRONLY);
	if (fd < 0)
		skip();
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	err = summary__write_json(f->ledger, &f->session, "-");
	clearerr(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fd);
	assert_int_equal(err, -ENOSPC);
}

/* Tests: the report and the live table */

static char *capture_report(struct fixture *f)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	assert_non_null(out);
	assert_int_equal(ledger__finish(f->ledger), 0);
	assert_int_equal(summary__print_report(f->ledger, &f->session, out), 0);
	fclose(out);
	return text;
}

static void assert_contains(const char *text, const char *want)
{
	if (!strstr(text, want))
		fail_msg("expected \"%s\" in:\n%s", want, text);
}

/*
 * A mesh and chip 0 share the id 0 but not an entry: devices carry their
 * kind, chips first, and so does every list entry; the report says "mesh".
 */
static void test_mesh_device(void **state)
{
	struct fixture *f = *state;
	struct dl_event mesh_alloc = { .kind = DL_EV_ALLOC,
				       .pid = 4000,
				       .ts_ns = AT_MS(20),
				       .address = 0x1000,
				       .size = 32768,
				       .device = 0xABC0,
				       .device_id = 0,
				       .device_kind = DL_DEVICE_MESH,
				       .mem_type = DL_MEM_DRAM };
	struct json_object *root;
	char *text;

	alloc(f, 4000, AT_MS(10), 0, DL_MEM_DRAM, 0x1000, 4096);
	assert_int_equal(ledger__apply(f->ledger, &mesh_alloc, sizeof(mesh_alloc)), 0);
	process_exit(f, 4000, AT_MS(30), 0, "mesh_test", 0);
	root = write_and_parse(f, NULL);
	assert_length_at(root, "processes.0.devices", 2);
	assert_string_at(root, "processes.0.devices.0.kind", "chip");
	assert_string_at(root, "processes.0.devices.1.kind", "mesh");
	assert_int_at(root, "processes.0.devices.1.device_id", 0);
	assert_uint_at(root, "processes.0.devices.1.memory.DRAM.leaked_bytes", 32768);
	assert_uint_at(root, "processes.0.devices.0.memory.DRAM.leaked_bytes", 4096);
	assert_string_at(root, "processes.0.leaks.0.device_kind", "chip");
	assert_string_at(root, "processes.0.leaks.1.device_kind", "mesh");
	json_object_put(root);

	text = capture_report(f);
	assert_contains(text, "  mesh 0\n");
	assert_contains(text, "    1 buffer, 32.0 KiB DRAM on mesh 0\n");
	assert_contains(text, "    mesh 0 DRAM ");
	free(text);
}

static void test_report_known_process(void **state)
{
	struct fixture *f = *state;
	char *text;

	feed_known_process(f);
	text = capture_report(f);

	assert_contains(text, "devledger: command session, 1.500 s, 123 events, 0 lost; devledger "
			      "used 0.250 s CPU, 20480 KiB peak\n");
	assert_contains(text, "traced: /opt/tt-metal/lib/libtt_metal.so (era-b layout)\n");
	assert_null(strstr(text, "WARNING"));
	assert_contains(text, "\nPID 1000 (runner) exited with code 0\n");
	assert_contains(text, "  1 hooked allocation ignored");
	assert_contains(text, "  device 3\n");
	assert_contains(
		text,
		"    TYPE                LIVE       PEAK   ALLOCS    FREES UNTRACKED   LEAKED\n");
	/* device 0, then device 3 */
	assert_contains(
		text,
		"    DRAM                 0 B   24.0 KiB        2        1         0        1\n"
		"    L1                   0 B    2.0 KiB        1        0         0        1\n"
		"    CB                   0 B   10.0 KiB        3        0         3        0\n"
		"  device 3\n"
		"    TYPE                LIVE       PEAK   ALLOCS    FREES UNTRACKED   LEAKED\n"
		"    DRAM                 0 B   36.0 KiB        2        0         2        0\n");
	assert_contains(
		text,
		"    SYSTEM_MEMORY        0 B      128 B        1        0         0        1\n");
	assert_contains(text, "  untracked frees: 5,");
	assert_contains(text, "    program_destroyed: 3 CBs, 10.0 KiB CB on device 0\n");
	assert_contains(text, "~ProgramImpl");
	assert_contains(text, "    device_closed: 2 buffers, 36.0 KiB DRAM on device 3\n");
	assert_contains(text, "Device::close");
	assert_contains(text, "  leaks: 3, 26.1 KiB,");
	assert_contains(text, "    1 buffer, 24.0 KiB DRAM on device 0\n");
	assert_contains(text, "    1 buffer, 2.0 KiB L1 on device 0\n");
	assert_contains(text,
			"         0 DRAM                  0x3ffff000   24.0 KiB      0.300 s\n");
	assert_contains(text,
			"         0 L1                       0x20000    2.0 KiB      0.000 s\n");
	assert_null(strstr(text, "more\n"));
	assert_contains(text, "  unmatched frees: 2,");
	assert_contains(text, "    unknown_address: 1 (");
	assert_contains(text, "before devledger attached");
	assert_contains(text, "    double_free: 1 (");
	assert_contains(
		text,
		"\ndevledger: 3 leaks, 26752 bytes (26.1 KiB); 5 untracked frees (not leaks)\n");
	free(text);
}

static void test_report_lost_running_and_many_leaks(void **state)
{
	struct fixture *f = *state;
	char *text;

	f->session.lost_events = 7;
	for (uint64_t i = 1; i <= 13; i++)
		alloc(f, 50, AT_MS(i), 2, DL_MEM_DRAM, i << 12, 1536);
	process_exit(f, 50, AT_MS(20), 9, "ctl\x01\xff\\", 6);
	alloc(f, 60, AT_MS(30), 1, DL_MEM_DRAM, 0x1000, 1572864);
	alloc(f, 60, AT_MS(30), 1, DL_MEM_L1, 0x1000, 512);
	dealloc(f, 60, AT_MS(31), 1, DL_MEM_L1, 0x7000, 0); /* its allocation may be among the lost */
	text = capture_report(f);

	assert_contains(text, "WARNING: 7 events were lost: the totals below are inexact.");
	assert_contains(text, "(events were lost in this session: some of these may be frees of "
			      "allocations whose records were lost)");
	assert_contains(text, "--ring-size");
	assert_contains(text, "\nPID 50 (ctl\\x01\\xff\\x5c) killed by signal 9\n");
	assert_contains(text, "  leaks: 13, 19.5 KiB,");
	assert_contains(text, "    13 buffers, 19.5 KiB DRAM on device 2\n");
	/* ten listed by address, then the rest counted */
	assert_contains(text, "0xa000");
	assert_null(strstr(text, "0xb000"));
	assert_contains(text, "    ... 3 more\n");
	assert_contains(text, "\nPID 60 () still running\n");
	assert_contains(
		text,
		"    DRAM             1.5 MiB    1.5 MiB        1        0         0        0\n");
	assert_contains(
		text,
		"    L1                 512 B      512 B        1        0         0        0\n");
	assert_contains(text, "  still live: 2 allocations, 1.5 MiB");
	assert_contains(
		text,
		"\ndevledger: 13 leaks, 19968 bytes (19.5 KiB); 2 allocations still live in 1 running process (inexact: 7 lost)\n");
	free(text);
}

static void test_report_no_leaks(void **state)
{
	struct fixture *f = *state;
	char *text;

	alloc(f, 70, AT_MS(1), 0, DL_MEM_DRAM, 0x1000, 4096);
	dealloc(f, 70, AT_MS(2), 0, DL_MEM_DRAM, 0x1000, 4096);
	process_exit(f, 70, AT_MS(3), 0, "clean", 5);
	text = capture_report(f);
	assert_contains(text, "\nPID 70 (clean) exited with code 0\n");
	assert_null(strstr(text, "leaks:"));
	assert_null(strstr(text, "untracked frees"));
	assert_contains(text, "\ndevledger: no leaks\n");
	free(text);
}

static void test_print_live(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	assert_non_null(out);
	f->session.duration_s = 2;
	f->session.events = 5;
	alloc(f, 42, AT_MS(1), 0, DL_MEM_DRAM, 0x1000, 1572864);
	alloc(f, 42, AT_MS(1), 0, DL_MEM_L1, 0x1000, 512);
	cb_alloc(f, 42, AT_MS(1), 2, 0x4000, 4096, 1);
	assert_int_equal(ledger__set_comm(f->ledger, 42, "worker"), 0);
	assert_int_equal(ledger__add_process(f->ledger, 43), 0);
	alloc(f, 44, AT_MS(2), 0, DL_MEM_DRAM, 0x8000, 2048);
	process_exit(f, 44, AT_MS(3), 0, "gone", 4);
	assert_int_equal(ledger__finish(f->ledger), 0);
	assert_int_equal(summary__print_live(f->ledger, &f->session, out), 0);
	fclose(out);

	assert_string_equal(
		text,
		"\n"
		"devledger: 2.000 s elapsed, 5 events, 0 lost\n"
"     PID COMM             STATE     DEVICE                DRAM                  "
		"L1                  CB     LEAKED\n"
		"      42 worker           running        0     1.5 MiB/1.5 MiB         512 B/512"
		" B                   -          -\n"
		"      42 worker           running        2                   -                  "
		" -     4.0 KiB/4.0 KiB          -\n"
		"      43                  running        -\n"
		"      44 gone             exit 0         0         0 B/2.0 KiB                  "
		" -                   -    2.0 KiB\n");
	free(text);
}

/*
 * With a timeline, the summary gains "timeline" (every change a point,
 * seconds since the start), "growth" (one verdict per series) and
 * "snapshots"; without one, none of the three.
 */
static void test_timeline_in_summary(void **state)
{
	struct fixture *f = *state;
	struct timeline *timeline = timeline__new(0);
	struct json_object *root, *points, *series, *growth, *snap;
	char *raw;

	assert_non_null(timeline);
	root = write_and_parse(f, NULL);
	assert_false(json_object_object_get_ex(root, "timeline", NULL));
	assert_false(json_object_object_get_ex(root, "growth", NULL));
	assert_false(json_object_object_get_ex(root, "snapshots", NULL));
	json_object_put(root);

	assert_int_equal(ledger__observe(f->ledger, timeline__observe, timeline), 0);
	alloc(f, 42, AT_MS(100), 0, DL_MEM_DRAM, 0x1000, 4096);
	alloc(f, 42, AT_MS(250), 0, DL_MEM_DRAM, 0x3000, 1024);
	assert_int_equal(timeline__snapshot(timeline, "after two", AT_MS(300)), 0);
	dealloc(f, 42, AT_MS(400), 0, DL_MEM_DRAM, 0x1000, 0);
	alloc(f, 42, AT_MS(500), 1, DL_MEM_L1, 0x40, 64);
	f->session.timeline = timeline;
	root = write_and_parse(f, &raw);

	assert_int_equal(json_object_array_length(get(root, "timeline.series")), 2);
	series = get(root, "timeline.series.0");
	assert_int_equal(json_object_get_int64(get(series, "pid")), 42);
	assert_int_equal(json_object_get_int64(get(series, "device_id")), 0);
	assert_string_equal(json_object_get_string(get(series, "device_kind")), "chip");
	assert_string_equal(json_object_get_string(get(series, "type")), "DRAM");
	assert_int_equal(json_object_get_int64(get(series, "changes")), 3);
	assert_int_equal(json_object_get_int64(get(series, "peak_bytes")), 5120);
	points = get(series, "points");
	assert_int_equal(json_object_array_length(points), 3);
	{
		const double t_s[] = { 0.1, 0.25, 0.4 };
		const int64_t bytes[] = { 4096, 5120, 1024 };

		for (size_t i = 0; i < 3; i++) {
			struct json_object *p = json_object_array_get_idx(points, i);

			assert_true(fabs(json_object_get_double(json_object_array_get_idx(p, 0)) -
					 t_s[i]) < 1e-9);
			assert_int_equal(json_object_get_int64(json_object_array_get_idx(p, 1)),
					 bytes[i]);
		}
	}
	/* seconds to the microsecond, as written */
	assert_non_null(strstr(raw, "0.250000"));
	assert_string_equal(json_object_get_string(get(root, "timeline.series.1.type")), "L1");
	assert_true(json_object_get_boolean(get(root, "timeline.exact")));

	assert_int_equal(json_object_array_length(get(root, "growth")), 2);
	growth = get(root, "growth.0");
	assert_false(json_object_get_boolean(get(growth, "growing")));
	assert_string_equal(json_object_get_string(get(growth, "basis")), "too_short");
	assert_true(json_object_is_type(get(growth, "bytes_per_snapshot"), json_type_null));
	assert_int_equal(json_object_get_int64(get(growth, "snapshots")), 1);

	assert_int_equal(json_object_array_length(get(root, "snapshots")), 1);
	snap = get(root, "snapshots.0");
	assert_string_equal(json_object_get_string(get(snap, "label")), "after two");
	assert_true(fabs(json_object_get_double(get(snap, "t_s")) - 0.3) < 1e-9);
	assert_int_equal(json_object_array_length(get(snap, "series")), 1);
	assert_int_equal(json_object_get_int64(get(snap, "series.0.live_bytes")), 5120);
	assert_int_equal(json_object_get_int64(get(snap, "series.0.live_count")), 2);
	free(raw);
	json_object_put(root);
	ledger__observe(f->ledger, NULL, NULL);
	timeline__free(timeline);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_inexact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_warnings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_totals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stacks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_states, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_running_process_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comm_escaped_and_valid_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_process_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_replaces_whole_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failures_leave_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_stdout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_stdout_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_known_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mesh_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_lost_running_and_many_leaks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_report_no_leaks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_print_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeline_in_summary, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
