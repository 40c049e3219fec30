// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// A ttnn stand-in: a CPython extension (standin_ttnn) whose function allocates through
// libtt_metal.so's tensor layer, as ttnn's bindings do, so that a stack taken there runs up
// through the interpreter's frames (_PyEval_EvalFrameDefault) to the Python caller.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "tt_metal.hpp"

using namespace tt::tt_metal;

namespace {

Device *device;

// standin_ttnn.leak_tensor(): a 4 KiB DRAM tensor on device 0, never freed.
__attribute__((noinline)) PyObject *leak_tensor(PyObject *, PyObject *)
{
	if (!device)
		device = new Device(0);
	new auto(tensor_ops::create_device_tensor(device, 4096, BufferType::DRAM));
	__asm__ volatile("" ::: "memory");
	Py_RETURN_NONE;
}

PyMethodDef methods[] = {
	{ "leak_tensor", leak_tensor, METH_NOARGS, "Allocate a tensor on device 0 and leak it." },
	{ nullptr, nullptr, 0, nullptr },
};

PyModuleDef module = { PyModuleDef_HEAD_INIT, "standin_ttnn", nullptr, -1, methods,
		       nullptr, nullptr, nullptr, nullptr };

} // namespace

PyMODINIT_FUNC PyInit_standin_ttnn(void)
{
	return PyModule_Create(&module);
}
