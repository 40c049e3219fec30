# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The stand-in tt-metal runtime: libtt_metal.so and the driver that runs scenarios on it, built
# several ways: as an era-B build; with -fcf-protection (every function starts with endbr64,
# which the kernel single-steps at a probe site); with the tracker call inlined into
# Buffer::allocate_impl (what devledger check must warn about); as era C (pimpl Buffer); and as
# tt-metal's default unity build with clang, of era B and of the newest ABI.

STANDIN_OUT := $(OUTPUT)/standin
STANDIN_CET_OUT := $(OUTPUT)/standin-cet
STANDIN_INLINED_OUT := $(OUTPUT)/standin-inlined
STANDIN_ERA_C_OUT := $(OUTPUT)/standin-era-c
STANDIN_LIB := $(STANDIN_OUT)/libtt_metal.so
STANDIN_DRIVER := $(STANDIN_OUT)/standin
# -Wno-invalid-offsetof: the layouts devledger reads are checked with offsetof on non-POD classes.
# -fomit-frame-pointer, as tt-metal is built: call stacks must be unwound from call-frame info.
STANDIN_CXXFLAGS := -std=c++17 -O2 -fomit-frame-pointer -g -fPIC -Wall -Wextra -Werror -Wno-invalid-offsetof -MMD -MP

# $(1): output folder, $(2): extra compiler flags, $(3): the C++ compiler (default $(CXX)).
define standin_variant
$(1):
	$$(Q)mkdir -p $$@

$(1)/%.o: tests/standin/%.cpp | $(1)
	$$(call msg,CXX,$$@)
	$$(Q)$(or $(3),$$(CXX)) $$(STANDIN_CXXFLAGS) $(2) -c $$< -o $$@

$(1)/libtt_metal.so: $(1)/tt_metal.o $(1)/truth.o
	$$(call msg,LIB,$$@)
	$$(Q)$(or $(3),$$(CXX)) -shared $(2) $$^ -o $$@

# RUNPATH $$ORIGIN: the driver finds the library beside it, as a tt-metal test binary does.
$(1)/standin: $(1)/driver.o $(1)/libtt_metal.so
	$$(call msg,BINARY,$$@)
	$$(Q)$(or $(3),$$(CXX)) $(2) $$< -L$(1) -ltt_metal -pthread -Wl,-rpath,'$$$$ORIGIN' -Wl,--enable-new-dtags -o $$@

-include $$(wildcard $(1)/*.d)
endef

$(eval $(call standin_variant,$(STANDIN_OUT),))
$(eval $(call standin_variant,$(STANDIN_CET_OUT),-fcf-protection=full))
# Buffer::allocate_impl with the tracker call inlined, as a unity build can leave it.
$(eval $(call standin_variant,$(STANDIN_INLINED_OUT),-DSTANDIN_INLINED_TRACKER))
# BankManager::deallocate_buffer as era B's small tail call (its entry single-stepped under a
# probe), plain and -fcf-protection: for make bench's whole-path loop.
STANDIN_BANK_TAIL_OUT := $(OUTPUT)/standin-bank-tail
STANDIN_BANK_TAIL_CET_OUT := $(OUTPUT)/standin-bank-tail-cet
$(eval $(call standin_variant,$(STANDIN_BANK_TAIL_OUT),-DSTANDIN_BANK_TAIL_CALL))
$(eval $(call standin_variant,$(STANDIN_BANK_TAIL_CET_OUT),-DSTANDIN_BANK_TAIL_CALL -fcf-protection=full))
# Era C (pimpl Buffer, AllocatorImpl), built with clang++ as newer tt-metal is.
$(eval $(call standin_variant,$(STANDIN_ERA_C_OUT),-DSTANDIN_ERA_C,clang++))

# tt-metal's default build: a unity build with clang, which inlines the tracker into
# Buffer::allocate_impl, Buffer::deallocate_impl and ProgramImpl::allocate_circular_buffers.
STANDIN_UNITY_OUT := $(OUTPUT)/standin-unity
$(eval $(call standin_variant,$(STANDIN_UNITY_OUT),-DSTANDIN_UNITY,clang++))
# The newest ABI as tt-metal builds it by default: era C, unity, per-thread GraphTracker processors
# (one registered on each thread that opens a device), MeshDevice a pimpl.
STANDIN_NEWEST_OUT := $(OUTPUT)/standin-newest
$(eval $(call standin_variant,$(STANDIN_NEWEST_OUT),-DSTANDIN_ERA_C -DSTANDIN_UNITY -DSTANDIN_TLS_PROCESSORS -DSTANDIN_MESH_PIMPL,clang++))

# Era B with the Buffer's fields moved: right only when read from its DWARF.
STANDIN_SHIFTED_OUT := $(OUTPUT)/standin-shifted
$(eval $(call standin_variant,$(STANDIN_SHIFTED_OUT),-DSTANDIN_SHIFTED))

# Its debug sections compressed, with zlib and with zstd (as newer linkers write them; Debian 12's libdw
# reads only zlib): devledger must find the same offsets in both.
$(STANDIN_SHIFTED_OUT)/libtt_metal-%.so: $(STANDIN_SHIFTED_OUT)/libtt_metal.so
	$(call msg,OBJCOPY,$@)
	$(Q)objcopy --compress-debug-sections=$* $< $@

# The plain build stripped of DWARF and .symtab: only exported symbols and the presets are left.
STANDIN_STRIPPED_OUT := $(OUTPUT)/standin-stripped
$(STANDIN_STRIPPED_OUT)/standin: $(STANDIN_DRIVER) $(STANDIN_LIB)
	$(call msg,STRIP,$(STANDIN_STRIPPED_OUT))
	$(Q)mkdir -p $(STANDIN_STRIPPED_OUT)
	$(Q)strip --strip-all -o $(STANDIN_STRIPPED_OUT)/libtt_metal.so $(STANDIN_LIB)
	$(Q)cp $(STANDIN_DRIVER) $@

# ProgramImpl's functions hidden and the library stripped: CBs cannot be tied to programs.
STANDIN_NOPROG_BUILD := $(OUTPUT)/standin-noprog-build
STANDIN_NOPROG_OUT := $(OUTPUT)/standin-noprog
$(eval $(call standin_variant,$(STANDIN_NOPROG_BUILD),-DSTANDIN_NO_PROGRAM_SYMBOLS))
$(STANDIN_NOPROG_OUT)/standin: $(STANDIN_NOPROG_BUILD)/standin
	$(call msg,STRIP,$(STANDIN_NOPROG_OUT))
	$(Q)mkdir -p $(STANDIN_NOPROG_OUT)
	$(Q)strip --strip-all -o $(STANDIN_NOPROG_OUT)/libtt_metal.so $(STANDIN_NOPROG_BUILD)/libtt_metal.so
	$(Q)cp $(STANDIN_NOPROG_BUILD)/standin $@

# The driver as a module a program loads with dlopen (as Python loads ttnn's extension module, which
# needs libtt_metal.so), and that program: the library is not among the program's dependencies.
$(STANDIN_OUT)/module-driver.o: tests/standin/driver.cpp | $(STANDIN_OUT)
	$(call msg,CXX,$@)
	$(Q)$(CXX) $(STANDIN_CXXFLAGS) -DSTANDIN_MODULE -c $< -o $@

$(STANDIN_OUT)/standin_module.so: $(STANDIN_OUT)/module-driver.o $(STANDIN_LIB)
	$(call msg,LIB,$@)
	$(Q)$(CXX) -shared $< -L$(STANDIN_OUT) -ltt_metal -pthread -Wl,-rpath,'$$ORIGIN' \
		-Wl,--enable-new-dtags -o $@

$(STANDIN_OUT)/standin-dlopen: tests/standin/loader.c | $(STANDIN_OUT)
	$(call msg,BINARY,$@)
	$(Q)$(CC) -std=c11 -O2 -g -Wall -Wextra -Werror $< -ldl -o $@

# A ttnn stand-in for Python callers (a CPython extension beside the plain build's library), with
# Debian's own Python: stacks from it must reach the interpreter's frames.
STANDIN_PYTHON := /usr/bin/python3
$(STANDIN_OUT)/standin_ttnn.so: tests/standin/pymodule.cpp $(STANDIN_LIB)
	$(call msg,LIB,$@)
	$(Q)$(CXX) $(STANDIN_CXXFLAGS) -Wno-missing-field-initializers -Wno-cast-function-type \
		$(shell $(STANDIN_PYTHON)-config --includes) -shared $< -L$(STANDIN_OUT) -ltt_metal \
		-Wl,-rpath,'$$ORIGIN' -Wl,--enable-new-dtags -o $@

standin: $(STANDIN_OUT)/standin_module.so $(STANDIN_OUT)/standin-dlopen $(STANDIN_OUT)/standin_ttnn.so \
	$(STANDIN_NOPROG_OUT)/standin $(STANDIN_DRIVER) $(STANDIN_CET_OUT)/standin $(STANDIN_INLINED_OUT)/standin \
	$(STANDIN_ERA_C_OUT)/standin $(STANDIN_SHIFTED_OUT)/standin $(STANDIN_STRIPPED_OUT)/standin \
	$(STANDIN_SHIFTED_OUT)/libtt_metal-zlib.so $(STANDIN_SHIFTED_OUT)/libtt_metal-zstd.so \
	$(STANDIN_UNITY_OUT)/standin $(STANDIN_NEWEST_OUT)/standin
