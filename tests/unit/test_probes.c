/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The probe table as the BPF side receives it: each probe's spec under the
 * layouts of era B and era C, the registers its site must keep, and what
 * check says it reads.
 */
#include <errno.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "probes.h"
#include "probesite.h"

/* A layout as probes__layout makes it from a profile's presets, with no library to read. */
static struct layout preset_layout(const char *profile_name)
{
	struct layout layout = { 0 };
	const struct layout_profile *p = NULL;

	for (size_t i = 0; i < PROFILE_COUNT; i++)
		if (!strcmp(profiles[i].name, profile_name))
			p = &profiles[i];
	assert_non_null(p);
	layout.profile = p;
	layout.offset[FIELD_IMPL] = p->impl;
	layout.offset[FIELD_DEVICE] = p->device;
	layout.offset[FIELD_SIZE] = p->size;
	layout.offset[FIELD_TYPE] = p->type;
	layout.offset[FIELD_HOOKED] = p->hooked;
	layout.offset[FIELD_ADDRESS] = p->address;
	layout.offset[FIELD_ALLOCATOR] = p->allocator;
	layout.offset[FIELD_DEVICE_ID] = p->device_id;
	layout.offset[FIELD_MESH_ID] = p->mesh_id;
	layout.offset[FIELD_STATUS] = p->status;
	return layout;
}

static const struct probe *probe_named(const char *program, bool retprobe)
{
	for (size_t i = 0; i < PROBE_COUNT; i++)
		if (!strcmp(probes[i].program, program) && probes[i].retprobe == retprobe)
			return &probes[i];
	fail_msg("no probe %s", program);
	return NULL;
}

static void assert_value(const struct dl_value *v, uint8_t source, uint32_t offset, uint8_t size)
{
	assert_int_equal(v->source, source);
	assert_int_equal(v->offset, offset);
	assert_int_equal(v->size, size);
}

/* Era B: the fields in Buffer itself, one read from the Buffer in rsi up to address_'s end. */
static void test_buffer_spec_era_b(void **state)
{
	struct layout layout = preset_layout("era-b");
	struct dl_probe_spec spec;

	(void)state;
	assert_int_equal(probes__spec(probe_named("track_allocate", false), &layout, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_ALLOC);
	assert_int_equal(spec.object_arg, 1);
	assert_int_equal(spec.hops, 0);
	assert_int_equal(spec.object_bytes, 88);
	assert_value(&spec.address, DL_SRC_OBJECT, 80, 8);
	assert_value(&spec.size, DL_SRC_OBJECT, 24, 8);
	assert_value(&spec.mem_type, DL_SRC_OBJECT, 32, 4);
	assert_value(&spec.device, DL_SRC_OBJECT, 16, 8);
	assert_value(&spec.object, DL_SRC_OBJECT, 64, 8);
	assert_value(&spec.hooked, DL_SRC_OBJECT, 73, 1);
	/* A free does not say its allocator. */
	assert_int_equal(probes__spec(probe_named("track_deallocate", false), &layout, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_FREE);
	assert_int_equal(spec.object.source, DL_SRC_NONE);
}

/* Era C: through the pimpl at 16 first, then BufferImpl's fields. */
static void test_buffer_spec_era_c(void **state)
{
	struct layout layout = preset_layout("era-c");
	struct dl_probe_spec spec;
	char text[256];

	(void)state;
	assert_int_equal(probes__spec(probe_named("track_allocate", false), &layout, &spec), 0);
	assert_int_equal(spec.hops, 1);
	assert_int_equal(spec.hop_offset[0], 16);
	assert_int_equal(spec.object_bytes, 72);
	assert_value(&spec.device, DL_SRC_OBJECT, 0, 8);
	assert_value(&spec.object, DL_SRC_OBJECT, 48, 8);
	probes__describe(&spec, text, sizeof(text));
	assert_string_equal(text, "reads from *(rsi+16), 72 bytes: address +64, size +8, type +16, "
				  "device +0, object +48, hooked +57");
}

/* A field nobody knows is not read; one past what a read covers is refused. */
static void test_unknown_and_far_fields(void **state)
{
	struct layout layout = preset_layout("era-b");
	struct dl_probe_spec spec;

	(void)state;
	layout.offset[FIELD_ALLOCATOR] = DL_OFFSET_UNKNOWN;
	assert_int_equal(probes__spec(probe_named("track_allocate", false), &layout, &spec), 0);
	assert_int_equal(spec.object.source, DL_SRC_NONE);
	assert_int_equal(spec.object_bytes, 88);
	layout.offset[FIELD_ADDRESS] = 8;
	layout.offset[FIELD_HOOKED] = 7;
	assert_int_equal(probes__spec(probe_named("track_allocate", false), &layout, &spec), 0);
	assert_int_equal(spec.object_bytes, 36); /* buffer_type_ at 32, 4 bytes */
	layout.offset[FIELD_SIZE] = DL_OBJECT_MAX - 4;
	assert_int_equal(probes__spec(probe_named("track_allocate", false), &layout, &spec),
			 -ERANGE);
}

/* Values straight from registers: the CB's address, size and device; a bank's type from its object.
 */
static void test_register_specs(void **state)
{
	struct layout layout = preset_layout("era-c");
	struct dl_probe_spec spec;
	char text[256];

	(void)state;
	assert_int_equal(probes__spec(probe_named("track_allocate_cb", false), &layout, &spec), 0);
	assert_int_equal(spec.object_bytes, 0);
	assert_int_equal(spec.address.arg, 2);
	assert_int_equal(spec.size.arg, 3);
	assert_int_equal(spec.device.arg, 5);
	assert_int_equal(spec.object.source, DL_SRC_PROGRAM);
	probes__describe(&spec, text, sizeof(text));
	assert_string_equal(text,
			    "reads address rdx, size rcx, type CB, device r9, object the thread's "
			    "program");

	assert_int_equal(probes__spec(probe_named("bank_deallocate", false), &layout, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_BANK_FREE);
	assert_int_equal(spec.object_bytes, 4);
	assert_value(&spec.mem_type, DL_SRC_OBJECT, 0, 4);
	assert_int_equal(spec.address.arg, 1);

	assert_int_equal(probes__spec(probe_named("device_close_return", true), &layout, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_DEVICE_CLOSED);
	probes__describe(&spec, text, sizeof(text));
	assert_string_equal(text, "reads nothing: the thread is the record");
}

/* A probe site may move past instructions only while they leave these registers alone. */
static void test_regs_read(void **state)
{
	(void)state;
	assert_int_equal(probes__regs_read(probe_named("track_allocate", false)), PROBESITE_RSI);
	assert_int_equal(probes__regs_read(probe_named("track_allocate_cb", false)),
			 PROBESITE_RDX | PROBESITE_RCX | PROBESITE_R9);
	assert_int_equal(probes__regs_read(probe_named("allocate_circular_buffers", false)),
			 PROBESITE_RDI);
	assert_int_equal(probes__regs_read(probe_named("bank_deallocate", false)),
			 PROBESITE_RDI | PROBESITE_RSI);
	assert_int_equal(probes__regs_read(probe_named("mesh_close", false)), PROBESITE_RDI);
	assert_int_equal(probes__regs_read(probe_named("mesh_close_return", true)), 0);
}

/*
 * Where track_allocate is inlined into Buffer::allocate_impl: its entry keeps
 * the Buffer, its return reads it through the pimpl and reports it only once
 * allocation_status_ says ALLOCATED; track_allocate itself is then not probed.
 */
static void test_allocate_impl_fallback(void **state)
{
	struct layout layout = preset_layout("era-c");
	const struct probe *entry = probe_named("allocate_impl", false);
	const struct probe *ret = probe_named("allocate_impl_return", true);
	struct dl_probe_spec spec;
	char text[256];

	(void)state;
	assert_int_equal(probes__spec(ret, &layout, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_ALLOC);
	assert_int_equal(spec.object_arg, DL_ARG_SAVED);
	assert_int_equal(spec.hops, 1);
	assert_value(&spec.only_if, DL_SRC_OBJECT, 56, 1);
	assert_int_equal(spec.only_if_equals, 1);
	probes__describe(&spec, text, sizeof(text));
	assert_string_equal(text, "reads from *(what its entry kept+16), 72 bytes: address +64, "
				  "size +8, type +16, device +0, object +48, hooked +57, only if "
				  "+56 is 1");
	assert_int_equal(probes__regs_read(entry), PROBESITE_RDI);
	assert_int_equal(probes__regs_read(ret), 0);

	assert_true(probes__attached(entry, true));
	assert_false(probes__attached(entry, false));
	assert_false(probes__attached(probe_named("track_allocate", false), true));
	assert_true(probes__attached(probe_named("track_allocate", false), false));
	assert_true(probes__attached(probe_named("track_deallocate", false), true));
}

/* Every probe sends a record or keeps the thread's program; each fits a spec slot. */
static void test_every_probe_does_something(void **state)
{
	struct layout layout = preset_layout("era-b");

	(void)state;
	assert_true(PROBE_COUNT <= DL_MAX_SPECS);
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		struct dl_probe_spec spec;

		assert_int_equal(probes__spec(&probes[i], &layout, &spec), 0);
		if (!spec.kind && !spec.action)
			fail_msg("probe %s does nothing", probes[i].program);
		/* A return probe reads no argument: they are gone by then. */
		if (probes[i].retprobe)
			assert_int_equal(probes__regs_read(&probes[i]), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffer_spec_era_b),
		cmocka_unit_test(test_buffer_spec_era_c),
		cmocka_unit_test(test_unknown_and_far_fields),
		cmocka_unit_test(test_register_specs),
		cmocka_unit_test(test_regs_read),
		cmocka_unit_test(test_allocate_impl_fallback),
		cmocka_unit_test(test_every_probe_does_something),
	};

	return cmocka_run_group_tests_name("probes (specs the BPF side follows)", tests, NULL,
					   NULL);
}
