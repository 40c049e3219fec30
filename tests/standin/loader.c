// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// standin-dlopen MODULE SCENARIO [ARGS]: load the stand-in driver as a module with dlopen and run
// it, as Python loads ttnn's extension module. libtt_metal.so is the module's dependency, found
// beside it: it is mapped only now, from wherever the module is, and is not among this program's
// own dependencies.
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	int (*run)(int, char **);
	void *module;

	if (argc < 3) {
		fprintf(stderr, "usage: standin-dlopen MODULE SCENARIO [ARGS]\n");
		return 2;
	}
	module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!module) {
		fprintf(stderr, "standin-dlopen: %s\n", dlerror());
		return 1;
	}
	*(void **)&run = dlsym(module, "standin_main");
	if (!run) {
		fprintf(stderr, "standin-dlopen: %s\n", dlerror());
		return 1;
	}
	argv[1] = "standin";
	return run(argc - 1, argv + 1);
}
