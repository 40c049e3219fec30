/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The probe table as the BPF side receives it: each probe's spec under the
 * layouts of era B and era C (and a program's buffers as DWARF tells them), the registers its site must keep, and what
 * check says it reads.
 */
#include <errno.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "eras.h"
#include "probes.h"
#include "probesite.h"

/* Offsets as a library without DWARF gives them: an era's presets. */
static void preset_offsets(const char *era_name, unsigned int *offsets)
{
	const struct era *era = eras__find(era_name);

	assert_non_null(era);
	for (int f = 0; f < LAYOUT_FIELDS; f++)
		offsets[f] = era->fields[f].preset;
}

/* And a program's buffers as the DWARF of the stand-in tells them. */
static void program_offsets(unsigned int *offsets)
{
	offsets[FIELD_PROGRAM_CBS] = 200;
	offsets[FIELD_PROGRAM_CBS_NEEDED] = 232;
	offsets[FIELD_CB_ADDRESS] = 96;
	offsets[FIELD_CB_SIZE] = 40;
	offsets[FIELD_CB_GLOBAL] = 48;
	offsets[FIELD_PROGRAM_DFBS] = 240;
	offsets[FIELD_PROGRAM_DFBS_NEEDED] = 264;
	offsets[FIELD_DFB_ADDRESS] = 24;
	offsets[FIELD_DFB_SIZE] = 16;
}

static int spec_of(const char *name, bool retprobe, const unsigned int *offsets,
		   struct dl_probe_spec *spec);

static const struct probe *probe_named(const char *name, bool retprobe)
{
	for (size_t i = 0; i < PROBE_COUNT; i++)
		if (!strcmp(probes[i].name, name) && probes[i].retprobe == retprobe)
			return &probes[i];
	fail_msg("no probe %s", name);
	return NULL;
}

static int spec_of(const char *name, bool retprobe, const unsigned int *offsets,
		   struct dl_probe_spec *spec)
{
	enum layout_field missing;

	return probes__spec(probe_named(name, retprobe), offsets, spec, &missing);
}

static void assert_value(const struct dl_value *v, uint8_t source, uint32_t offset, uint8_t size)
{
	assert_int_equal(v->source, source);
	assert_int_equal(v->offset, offset);
	assert_int_equal(v->size, size);
}

/* Era B: the fields in Buffer itself, one read from device_ (16) to address_'s end. */
static void test_buffer_spec_era_b(void **state)
{
	unsigned int offsets[LAYOUT_FIELDS];
	struct dl_probe_spec spec;

	(void)state;
	preset_offsets("era-b", offsets);
	assert_int_equal(spec_of("track_allocate", false, offsets, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_ALLOC);
	assert_int_equal(spec.object_arg, 1);
	assert_int_equal(spec.hops, 0);
	assert_int_equal(spec.object_start, 16);
	assert_int_equal(spec.object_bytes, 72);
	assert_value(&spec.address, DL_SRC_OBJECT, 80 - 16, 8);
	assert_value(&spec.size, DL_SRC_OBJECT, 24 - 16, 8);
	assert_value(&spec.mem_type, DL_SRC_OBJECT, 32 - 16, 4);
	assert_value(&spec.device, DL_SRC_OBJECT, 0, 8);
	assert_value(&spec.object, DL_SRC_OBJECT, 64 - 16, 8);
	assert_value(&spec.hooked, DL_SRC_OBJECT, 73 - 16, 1);
	/* A free does not say its allocator. */
	assert_int_equal(spec_of("track_deallocate", false, offsets, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_FREE);
	assert_int_equal(spec.object.source, DL_SRC_NONE);
}

/* Era C: through the pimpl at 16 first, then BufferImpl's fields. */
static void test_buffer_spec_era_c(void **state)
{
	unsigned int offsets[LAYOUT_FIELDS];
	struct dl_probe_spec spec;
	char text[256];

	(void)state;
	preset_offsets("era-c", offsets);
	assert_int_equal(spec_of("track_allocate", false, offsets, &spec), 0);
	assert_int_equal(spec.hops, 1);
	assert_int_equal(spec.hop_offset[0], 16);
	assert_int_equal(spec.object_start, 0);
	assert_int_equal(spec.object_bytes, 72);
	assert_value(&spec.device, DL_SRC_OBJECT, 0, 8);
	assert_value(&spec.object, DL_SRC_OBJECT, 48, 8);
	probes__describe(&spec, text, sizeof(text));
	assert_string_equal(text, "reads from *(rsi+16)+0, 72 bytes: address +64, size +8, type "
				  "+16, device +0, object +48, hooked +57");
}

/* A field nobody knows is not read, or stops the probe; one past what a read covers is refused. */
static void test_unknown_and_far_fields(void **state)
{
	unsigned int offsets[LAYOUT_FIELDS];
	enum layout_field missing = FIELD_BUFFER_IMPL;
	struct dl_probe_spec spec;

	(void)state;
	preset_offsets("era-b", offsets);
	offsets[FIELD_BUFFER_ALLOCATOR] = DL_OFFSET_UNKNOWN;
	assert_int_equal(spec_of("track_allocate", false, offsets, &spec), 0);
	assert_int_equal(spec.object.source, DL_SRC_NONE);
	assert_int_equal(spec.object_bytes, 72);
	offsets[FIELD_BUFFER_ADDRESS] = 8;
	offsets[FIELD_BUFFER_HOOKED] = 7;
	assert_int_equal(spec_of("track_allocate", false, offsets, &spec), 0);
	assert_int_equal(spec.object_start, 7);
	assert_int_equal(spec.object_bytes, 36 - 7); /* buffer_type_ at 32, 4 bytes */
	offsets[FIELD_BUFFER_SIZE] = DL_OBJECT_MAX + 4;
	assert_int_equal(spec_of("track_allocate", false, offsets, &spec), -ERANGE);
	/* A field far into its object costs a small read all the same. */
	preset_offsets("era-b", offsets);
	for (int f = FIELD_BUFFER_DEVICE; f <= FIELD_BUFFER_STATUS; f++)
		offsets[f] += 4096;
	assert_int_equal(spec_of("track_allocate", false, offsets, &spec), 0);
	assert_int_equal(spec.object_start, 4096 + 16);
	assert_int_equal(spec.object_bytes, 72);
	/* The size unknown: nothing to report without it. */
	offsets[FIELD_BUFFER_SIZE] = DL_OFFSET_UNKNOWN;
	assert_int_equal(probes__spec(probe_named("track_allocate", false), offsets, &spec,
				      &missing),
			 -ENOENT);
	assert_int_equal(missing, FIELD_BUFFER_SIZE);
}

/* Values straight from registers: the CB's address, size and device; a bank's type from its object. */
static void test_register_specs(void **state)
{
	unsigned int offsets[LAYOUT_FIELDS];
	struct dl_probe_spec spec;
	char text[256];

	(void)state;
	preset_offsets("era-c", offsets);
	assert_int_equal(spec_of("track_allocate_cb", false, offsets, &spec), 0);
	assert_int_equal(spec.object_bytes, 0);
	assert_int_equal(spec.address.arg, 2);
	assert_int_equal(spec.size.arg, 3);
	assert_int_equal(spec.device.arg, 5);
	assert_int_equal(spec.object.source, DL_SRC_PROGRAM);
	probes__describe(&spec, text, sizeof(text));
	assert_string_equal(text,
			    "reads address rdx, size rcx, type CB, device r9, object the thread's "
			    "program");

	assert_int_equal(spec_of("bank_deallocate", false, offsets, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_BANK_FREE);
	assert_int_equal(spec.object_bytes, 4);
	assert_value(&spec.mem_type, DL_SRC_OBJECT, 0, 4);
	assert_int_equal(spec.address.arg, 1);

	assert_int_equal(spec_of("device_close_return", true, offsets, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_DEVICE_CLOSED);
	probes__describe(&spec, text, sizeof(text));
	assert_string_equal(text, "reads nothing: the thread is the record");
}

/*
 * A MeshBuffer's release by its mesh's allocator: at the call, the Buffer is
 * the call's second argument (rsi), read through its pimpl in era C; attached
 * wherever the call is found, whatever was inlined. The bank's release of
 * every buffer is the library's to decide (only where those calls are not
 * all found).
 */
static void test_release_at_call_specs(void **state)
{
	const struct probe *release = probe_named("mesh_buffer_release", false);
	unsigned int offsets[LAYOUT_FIELDS];
	struct dl_probe_spec spec;
	char text[256];

	(void)state;
	assert_non_null(release);
	assert_true(release->at_release_call);
	assert_int_equal(release->symbol, SYM_MESH_BUFFER_DEALLOCATE);
	assert_true(probe_named("mesh_buffer_dtor_release", false)->at_release_call);
	assert_false(probe_named("track_deallocate", false)->at_release_call);
	preset_offsets("era-c", offsets);
	assert_int_equal(spec_of("mesh_buffer_release", false, offsets, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_ALLOCATOR_FREE);
	assert_int_equal(spec.object_arg, 1);
	assert_int_equal(spec.hops, 1);
	assert_int_equal(spec.hop_offset[0], 16);
	probes__describe(&spec, text, sizeof(text));
	assert_string_equal(text, "reads from *(rsi+16)+0, 72 bytes: address +64, size +8, type "
				  "+16, device +0, hooked +57");
	for (unsigned int inlined = 0; inlined < 8; inlined++) {
		assert_true(probes__wanted(release, inlined));
		assert_true(probes__wanted(probe_named("bank_deallocate", false), inlined));
	}
	assert_int_equal(probe_named("bank_deallocate", false)->when, WHEN_RELEASES_UNSEEN);
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
	/* The fallbacks keep `this` and the device for their returns. */
	assert_int_equal(probes__regs_read(probe_named("read_circular_buffers", false)),
			 PROBESITE_RDI | PROBESITE_RSI);
	assert_int_equal(probes__regs_read(probe_named("read_dataflow_buffers", false)),
			 PROBESITE_RDI | PROBESITE_RSI);
	assert_int_equal(probes__regs_read(probe_named("deallocate_impl", false)), PROBESITE_RDI);
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
	const struct probe *entry = probe_named("allocate_impl", false);
	const struct probe *ret = probe_named("allocate_impl_return", true);
	unsigned int offsets[LAYOUT_FIELDS];
	unsigned int inlined = 1u << CALL_TRACK_ALLOCATE;
	struct dl_probe_spec spec;
	char text[256];

	(void)state;
	preset_offsets("era-c", offsets);
	assert_int_equal(spec_of("allocate_impl_return", true, offsets, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_ALLOC);
	assert_int_equal(spec.object_arg, DL_ARG_SAVED);
	assert_int_equal(spec.hops, 1);
	assert_value(&spec.only_if, DL_SRC_OBJECT, 56, 1);
	assert_int_equal(spec.only_if_equals, 1);
	assert_int_equal(spec.save_slot, entry->spec.save_slot);
	probes__describe(&spec, text, sizeof(text));
	assert_string_equal(text, "reads from *(what its entry kept+16)+0, 72 bytes: address +64, "
				  "size +8, type +16, device +0, object +48, hooked +57, only if "
				  "+56 is 1");
	assert_int_equal(probes__regs_read(entry), PROBESITE_RDI);
	assert_int_equal(probes__regs_read(ret), 0);

	assert_true(probes__wanted(entry, inlined));
	assert_false(probes__wanted(entry, 0));
	assert_false(probes__wanted(probe_named("track_allocate", false), inlined));
	assert_true(probes__wanted(probe_named("track_allocate", false), 0));
	assert_true(probes__wanted(probe_named("track_deallocate", false), inlined));
	assert_false(probes__wanted(probe_named("deallocate_impl", false), inlined));
}

/*
 * Where track_deallocate is inlined into Buffer::deallocate_impl: its entry
 * reports the free, where tt-metal would (the Buffer allocated).
 */
static void test_deallocate_impl_fallback(void **state)
{
	unsigned int offsets[LAYOUT_FIELDS];
	unsigned int inlined = 1u << CALL_TRACK_DEALLOCATE;
	struct dl_probe_spec spec;

	(void)state;
	preset_offsets("era-b", offsets);
	assert_int_equal(spec_of("deallocate_impl", false, offsets, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_FREE);
	assert_int_equal(spec.object_arg, 0);
	assert_int_equal(spec.object_start, 16);
	assert_value(&spec.address, DL_SRC_OBJECT, 80 - 16, 8);
	assert_value(&spec.only_if, DL_SRC_OBJECT, 72 - 16, 1);
	assert_int_equal(spec.only_if_equals, 1);
	assert_true(probes__wanted(probe_named("deallocate_impl", false), inlined));
	assert_false(probes__wanted(probe_named("track_deallocate", false), inlined));
	assert_true(probes__wanted(probe_named("track_allocate", false), inlined));
}

/*
 * Where track_allocate_cb is inlined (and for dataflow buffers, always): the
 * entry keeps the program and its device when it must lay them out, the
 * return reads each buffer the program's vector points at.
 */
static void test_program_buffers(void **state)
{
	unsigned int offsets[LAYOUT_FIELDS];
	unsigned int inlined = 1u << CALL_TRACK_ALLOCATE_CB;
	struct dl_probe_spec spec;
	char text[320];

	(void)state;
	preset_offsets("era-c", offsets);
	/* Without DWARF nothing tells where a program keeps its CBs. */
	assert_int_equal(spec_of("read_circular_buffers_return", true, offsets, &spec), -ENOENT);
	program_offsets(offsets);
	assert_int_equal(spec_of("read_circular_buffers", false, offsets, &spec), 0);
	assert_int_equal(spec.kind, 0);
	assert_int_equal(spec.action, DL_ACTION_SAVE_OBJECT);
	assert_int_equal(spec.save_arg, 1);
	assert_int_equal(spec.object_start, 232);
	assert_int_equal(spec.object_bytes, 1);
	assert_value(&spec.only_if, DL_SRC_OBJECT, 0, 1);
	assert_int_equal(spec.only_if_equals, 1);
	assert_int_equal(spec_of("read_circular_buffers_return", true, offsets, &spec), 0);
	assert_int_equal(spec.kind, DL_EV_CB_ALLOC);
	assert_int_equal(spec.object_arg, DL_ARG_SAVED);
	assert_int_equal(spec.object_bytes, 0);
	assert_int_equal(spec.device.source, DL_SRC_SAVED);
	assert_value(&spec.mem_type, DL_SRC_CONST, DL_MEM_CB, 0);
	assert_int_equal(spec.array.vector, 200);
	assert_int_equal(spec.array.stride, 16);
	assert_value(&spec.array.address, DL_SRC_OBJECT, 96, 4);
	assert_value(&spec.array.size, DL_SRC_OBJECT, 40, 4);
	/* A globally allocated CB is a tensor's, not the program's: skipped. */
	assert_value(&spec.array.only_if, DL_SRC_OBJECT, 48, 1);
	assert_int_equal(spec.array.only_if_equals, 0);
	probes__describe(&spec, text, sizeof(text));
	assert_string_equal(text,
			    "for each element of the vector at what its entry kept+200 (16 "
			    "bytes apart): type CB, device the argument its entry kept, "
			    "element address +96, element size +40, element only if +48 is 0");
	assert_true(probes__wanted(probe_named("read_circular_buffers", false), inlined));
	assert_false(probes__wanted(probe_named("read_circular_buffers", false), 0));
	assert_false(probes__wanted(probe_named("track_allocate_cb", false), inlined));
	assert_false(probes__wanted(probe_named("allocate_circular_buffers", false), inlined));

	assert_int_equal(spec_of("read_dataflow_buffers_return", true, offsets, &spec), 0);
	assert_value(&spec.mem_type, DL_SRC_CONST, DL_MEM_DFB, 0);
	assert_int_equal(spec.array.vector, 240);
	assert_value(&spec.array.address, DL_SRC_OBJECT, 24, 4);
	assert_true(probes__wanted(probe_named("read_dataflow_buffers", false), 0));
	assert_true(probes__wanted(probe_named("read_dataflow_buffers", false), inlined));
}

/* Every probe sends a record or acts; each fits a spec slot; entries and returns pair up. */
static void test_every_probe_does_something(void **state)
{
	unsigned int offsets[LAYOUT_FIELDS];

	(void)state;
	preset_offsets("era-b", offsets);
	program_offsets(offsets);
	assert_true(PROBE_COUNT <= DL_MAX_SPECS);
	for (size_t i = 0; i < PROBE_COUNT; i++) {
		enum layout_field missing;
		struct dl_probe_spec spec;
		bool paired = !probes[i].spec.save_slot;

		assert_int_equal(probes__spec(&probes[i], offsets, &spec, &missing), 0);
		if (!spec.kind && !spec.action)
			fail_msg("probe %s does nothing", probes[i].name);
		/* A return probe reads no argument: they are gone by then. */
		if (probes[i].retprobe)
			assert_int_equal(probes__regs_read(&probes[i]), 0);
		for (size_t j = 0; j < PROBE_COUNT; j++)
			paired |= j != i && probes[j].symbol == probes[i].symbol &&
				  probes[j].retprobe != probes[i].retprobe &&
				  probes[j].spec.save_slot == probes[i].spec.save_slot;
		if (!paired)
			fail_msg("probe %s keeps for a return that is not there", probes[i].name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffer_spec_era_b),
		cmocka_unit_test(test_buffer_spec_era_c),
		cmocka_unit_test(test_unknown_and_far_fields),
		cmocka_unit_test(test_register_specs),
		cmocka_unit_test(test_release_at_call_specs),
		cmocka_unit_test(test_regs_read),
		cmocka_unit_test(test_allocate_impl_fallback),
		cmocka_unit_test(test_deallocate_impl_fallback),
		cmocka_unit_test(test_program_buffers),
		cmocka_unit_test(test_every_probe_does_something),
	};

	return cmocka_run_group_tests_name("probes (specs the BPF side follows)", tests, NULL,
					   NULL);
}
