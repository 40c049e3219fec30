// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// The ELF and DWARF fuzzers' seed library: a few of tt-metal's classes and functions under their
// real mangled names, small enough to commit (built without libc, startup files or build id by
// tests/fuzz/seeds.sh). Each shape a parser walks is here once, so that a seed reaches it and
// mutations start from there: a call through the PLT (inlining), a vtable and an object in .bss
// (elfsyms), a pimpl, a member path, a base class, a typedef, const and volatile members and a
// union (dwarflayout).

namespace tt {
namespace tt_metal {

typedef unsigned long DeviceAddr;

class BufferImpl {
public:
	void *device_;
	DeviceAddr size_;
	const int buffer_type_;
	bool hooked_allocation_;
	DeviceAddr address_;
};

class Buffer {
public:
	void allocate_impl();
	long pad_;
	BufferImpl *pimpl_;
};

class GraphTracker {
public:
	static void track_allocate(const Buffer *buffer);
};

struct CircularBufferConfig {
	unsigned int pad_;
	volatile unsigned int total_size_;
};

class CircularBufferBase {
public:
	DeviceAddr locally_allocated_address_;
};

class CircularBuffer : public CircularBufferBase {
public:
	long id_;
	CircularBufferConfig config_;
};

union DeviceSlot {
	int index;
	long handle;
};

class Device {
public:
	void close();
	long pad_;
	int id_;
	DeviceSlot slot_;
};

namespace distributed {
class MeshDevice {
public:
	virtual void close();
	int mesh_id_;
};
} // namespace distributed

namespace detail {
class ProgramImpl {
public:
	~ProgramImpl();
	CircularBuffer *circular_buffers_;
	bool local_circular_buffer_allocation_needed_;
};
} // namespace detail

} // namespace tt_metal
} // namespace tt

char seed_bss[4096];
volatile long seed_sink;

using namespace tt::tt_metal;

void GraphTracker::track_allocate(const Buffer *buffer)
{
	seed_sink = seed_sink + (long)buffer->pimpl_->size_;
}

// Calls the tracker through the PLT: default visibility in a shared library.
void Buffer::allocate_impl()
{
	pimpl_->address_ = pimpl_->size_ + pimpl_->buffer_type_;
	GraphTracker::track_allocate(this);
}

void Device::close()
{
	seed_sink = seed_sink + id_ + slot_.handle + seed_bss[0];
}

void distributed::MeshDevice::close()
{
	seed_sink = seed_sink + mesh_id_;
}

detail::ProgramImpl::~ProgramImpl()
{
	if (local_circular_buffer_allocation_needed_)
		seed_sink = seed_sink + circular_buffers_->config_.total_size_ +
			    (long)circular_buffers_->locally_allocated_address_;
}
