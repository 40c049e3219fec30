# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# The stand-in tt-metal runtime: libtt_metal.so and the driver that runs scenarios on it.

STANDIN_OUT := $(OUTPUT)/standin
STANDIN_LIB := $(STANDIN_OUT)/libtt_metal.so
STANDIN_DRIVER := $(STANDIN_OUT)/standin
# -Wno-invalid-offsetof: the layouts devledger reads are checked with offsetof on non-POD classes.
STANDIN_CXXFLAGS := -std=c++17 -O2 -g -fPIC -Wall -Wextra -Werror -Wno-invalid-offsetof -MMD -MP

$(STANDIN_OUT):
	$(Q)mkdir -p $@

$(STANDIN_OUT)/%.o: tests/standin/%.cpp | $(STANDIN_OUT)
	$(call msg,CXX,$@)
	$(Q)$(CXX) $(STANDIN_CXXFLAGS) -c $< -o $@

$(STANDIN_LIB): $(STANDIN_OUT)/tt_metal.o $(STANDIN_OUT)/truth.o
	$(call msg,LIB,$@)
	$(Q)$(CXX) -shared $^ -o $@

# RUNPATH $ORIGIN: the driver finds the library beside it, as a tt-metal test binary does.
$(STANDIN_DRIVER): $(STANDIN_OUT)/driver.o $(STANDIN_LIB)
	$(call msg,BINARY,$@)
	$(Q)$(CXX) $< -L$(STANDIN_OUT) -ltt_metal -pthread -Wl,-rpath,'$$ORIGIN' -Wl,--enable-new-dtags -o $@

standin: $(STANDIN_DRIVER)

-include $(wildcard $(STANDIN_OUT)/*.d)
