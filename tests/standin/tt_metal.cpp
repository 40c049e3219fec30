// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// The stand-in runtime's behaviour, following tt-metal's era-B call flows:
// allocate_impl -> allocator -> track_allocate; deallocate_impl ->
// track_deallocate -> allocator, both skipped once the device is closed;
// CBs laid out per program from one L1 base; Device::close dropping its
// allocator with no per-buffer report.
#include "tt_metal.hpp"
#include "truth.hpp"

#include <cstddef>
#include <set>

namespace tt::tt_metal {

#ifdef STANDIN_ERA_C
// The offsets devledger reads (tt-metal era C, x86-64 libstdc++).
static_assert(offsetof(Buffer, impl_) == 16);
static_assert(offsetof(BufferImpl, device_) == 0);
static_assert(offsetof(BufferImpl, size_) == 8);
static_assert(offsetof(BufferImpl, buffer_type_) == 16);
static_assert(offsetof(BufferImpl, allocation_status_) == 56);
static_assert(offsetof(BufferImpl, hooked_allocation_) == 57);
static_assert(offsetof(BufferImpl, address_) == 64);
static_assert(offsetof(BufferImpl, page_size_) == 72);

__attribute__((noinline)) void AllocatorImpl::deallocate_buffers()
{
}
#elif defined(STANDIN_SHIFTED)
static_assert(offsetof(Buffer, size_) == 32);
static_assert(offsetof(Buffer, address_) == 88);
#else
// The offsets devledger reads (tt-metal era B, x86-64 libstdc++).
static_assert(offsetof(Buffer, device_) == 16);
static_assert(offsetof(Buffer, size_) == 24);
static_assert(offsetof(Buffer, buffer_type_) == 32);
static_assert(offsetof(Buffer, buffer_layout_) == 36);
static_assert(offsetof(Buffer, bottom_up_) == 40);
static_assert(offsetof(Buffer, owns_data_) == 43);
static_assert(offsetof(Buffer, allocator_) == 64);
static_assert(offsetof(Buffer, allocation_status_) == 72);
static_assert(offsetof(Buffer, hooked_allocation_) == 73);
static_assert(offsetof(Buffer, address_) == 80);
static_assert(offsetof(Buffer, page_size_) == 88);
#endif
static_assert(offsetof(Device, id_) == 8);

} // namespace tt::tt_metal

#ifdef STANDIN_NO_PROGRAM_SYMBOLS
// A build that keeps ProgramImpl's functions to itself (and is stripped): devledger cannot see
// which program a CB belongs to, nor when a program goes.
#define STANDIN_PROGRAM_VISIBILITY __attribute__((visibility("hidden")))
#else
#define STANDIN_PROGRAM_VISIBILITY
#endif

namespace standin {

using namespace tt::tt_metal;

static bool graph_capture_hook;
static std::vector<Truth *> observers;
// Programs whose CBs are allocated, so that a device close and the process end can find them.
static std::set<detail::ProgramImpl *> programs_with_cbs;
static std::set<Device *> open_devices;

void set_graph_capture_hook(bool on)
{
	graph_capture_hook = on;
}

std::recursive_mutex &runtime_mutex()
{
	static std::recursive_mutex mutex;
	return mutex;
}

void add_observer(Truth *truth)
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	observers.push_back(truth);
}

template <typename F> static void tell(F &&f)
{
	for (Truth *t : observers)
		f(*t);
}

void process_end()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	tell([](Truth &t) { t.leak_everything_live(); });
}

} // namespace standin

namespace tt::tt_metal {

using standin::runtime_mutex;
using standin::tell;
using standin::Truth;

IDevice::~IDevice() = default;
IGraphProcessor::~IGraphProcessor() = default;

// ---- GraphTracker: tt-metal's shape, a loop over registered processors ----

GraphTracker &GraphTracker::instance()
{
	static GraphTracker tracker;
	return tracker;
}

__attribute__((noinline)) void GraphTracker::track_allocate(const Buffer *buffer)
{
	if (processors.empty())
		return;
	for (auto &p : processors)
		p->track_allocate(buffer);
}

__attribute__((noinline)) void GraphTracker::track_deallocate(Buffer *buffer)
{
	if (processors.empty())
		return;
	for (auto &p : processors)
		p->track_deallocate(buffer);
}

__attribute__((noinline)) void GraphTracker::track_allocate_cb(const CoreRangeSet &core_range_set,
							       uint64_t addr, uint64_t size,
							       bool is_globally_allocated,
							       const IDevice *device)
{
	if (processors.empty())
		return;
	for (auto &p : processors)
		p->track_allocate_cb(core_range_set, addr, size, is_globally_allocated, device);
}

__attribute__((noinline)) void GraphTracker::track_deallocate_cb(const IDevice *device)
{
	if (processors.empty())
		return;
	for (auto &p : processors)
		p->track_deallocate_cb(device);
}

__attribute__((noinline)) void GraphTracker::track_program(Program *program, const IDevice *device)
{
	if (processors.empty())
		return;
	for (auto &p : processors)
		p->track_program(program, device);
}

// ---- Allocator ----

static constexpr DeviceAddr DRAM_BANK_SIZE = 1ULL << 30;
static constexpr unsigned int DRAM_BANKS = 12;

Allocator::Allocator()
{
	// base, top, alignment per bank, interleaving
	banks_[(int)BufferType::DRAM] = { 0, DRAM_BANK_SIZE, 2048, DRAM_BANKS, {}, {} };
	banks_[(int)BufferType::L1] = { 262144, 1499136, 32, 1, {}, {} };
	banks_[(int)BufferType::SYSTEM_MEMORY] = { 0, 1ULL << 28, 32, 1, {}, {} };
	banks_[(int)BufferType::L1_SMALL] = { 16384, 98304, 32, 1, {}, {} };
	banks_[(int)BufferType::TRACE] = { 0, 256ULL << 20, 2048, DRAM_BANKS, {}, {} };
}

Allocator::~Allocator() = default;

static DeviceAddr round_up(DeviceAddr value, DeviceAddr align)
{
	return (value + align - 1) / align * align;
}

__attribute__((noinline)) DeviceAddr Allocator::allocate_buffer(Buffer *buffer, bool *ok)
{
	auto *b = buffer->state();
	Bank &bank = banks_[(int)b->buffer_type_];
	DeviceAddr need = round_up((b->size_ + bank.interleave - 1) / bank.interleave, bank.align);
	DeviceAddr found = 0;

	*ok = false;
	if (b->bottom_up_) {
		DeviceAddr at = bank.base;
		for (const auto &[addr, footprint] : bank.used) {
			if (addr - at >= need)
				break;
			at = std::max(at, addr + footprint);
		}
		if (at + need <= bank.top) {
			found = at;
			*ok = true;
		}
	} else {
		DeviceAddr end = bank.top;
		for (auto it = bank.used.rbegin(); it != bank.used.rend(); ++it) {
			DeviceAddr top_of_used = it->first + it->second;
			if (end >= top_of_used && end - top_of_used >= need)
				break;
			end = std::min(end, it->first);
		}
		if (end >= bank.base + need) {
			found = end - need;
			*ok = true;
		}
	}
	if (*ok) {
		bank.used[found] = need;
		bank.requested[found] = b->size_;
	}
	return found;
}

__attribute__((noinline)) void Allocator::deallocate_buffer(Buffer *buffer)
{
	auto *b = buffer->state();
	Bank &bank = banks_[(int)b->buffer_type_];
	bank.used.erase(b->address_);
	bank.requested.erase(b->address_);
}

const std::map<DeviceAddr, DeviceAddr> &Allocator::allocated(BufferType type) const
{
	return banks_[(int)type].requested;
}

// ---- Device ----

Device::Device(int id) : id_(id), initialized_(true), allocator_(new Allocator())
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	standin::open_devices.insert(this);
}

Device::~Device()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	standin::open_devices.erase(this);
	delete allocator_;
}

int Device::id() const
{
	return id_;
}

bool Device::is_initialized() const
{
	return initialized_;
}

void Device::cache_program_binary(std::shared_ptr<Buffer> binary)
{
	program_cache_.push_back(std::move(binary));
}

__attribute__((noinline)) bool Device::close()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());

	if (!initialized_)
		return false;
	// Program cache first: its binaries are freed on the tracked path.
	for (auto &binary : program_cache_)
		binary->deallocate();
	program_cache_.clear();

	// Then the allocator goes whole. What it still held is released without a report.
	for (int type = 0; type <= (int)BufferType::TRACE; type++)
		for (const auto &allocation : allocator_->allocated((BufferType)type))
			tell([&](Truth &t) {
				t.released(id_, type, allocation.first, "device_closed");
			});
	tell([&](Truth &t) { t.device_cbs_released(id_); });
	for (auto *program : standin::programs_with_cbs)
		if (program->device_ == this)
			program->allocated_.clear();
	delete allocator_;
	allocator_ = nullptr;
	initialized_ = false;
	standin::open_devices.erase(this);
	return true;
}

// ---- Buffer ----

Buffer::Buffer(IDevice *device, DeviceAddr size, DeviceAddr page_size, BufferType type,
	       bool bottom_up)
{
#ifdef STANDIN_ERA_C
	impl_ = std::make_unique<BufferImpl>();
#endif
	auto *b = state();
	b->device_ = device;
	b->size_ = size;
	b->buffer_type_ = type;
	b->buffer_layout_ = TensorMemoryLayout::INTERLEAVED;
	b->bottom_up_ = bottom_up;
	b->owns_data_ = true;
	b->shard_parameters_[0] = b->shard_parameters_[1] = 0;
	b->allocator_ = static_cast<Device *>(device)->allocator();
	b->allocation_status_ = AllocationStatus::ALLOCATION_REQUESTED;
	b->hooked_allocation_ = false;
	b->address_ = 0;
	b->page_size_ = page_size;
}

std::shared_ptr<Buffer> Buffer::create(IDevice *device, DeviceAddr size, DeviceAddr page_size,
				       BufferType type, bool bottom_up)
{
	auto buffer = std::make_shared<Buffer>(device, size, page_size, type, bottom_up);
	buffer->allocate_impl();
	if (!buffer->is_allocated())
		return nullptr;
	return buffer;
}

std::shared_ptr<Buffer> Buffer::forged(IDevice *device, DeviceAddr size, BufferType type,
				       DeviceAddr address)
{
	auto buffer = std::make_shared<Buffer>(device, size, size, type, true);
	buffer->state()->address_ = address;
	buffer->state()->owns_data_ = false;
	return buffer;
}

__attribute__((noinline)) void Buffer::allocate_impl()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	auto *b = state();
	int device_id = b->device_->id();

	if (standin::graph_capture_hook) {
		// ttnn's NO_DISPATCH graph capture: nothing is really allocated.
		b->address_ = 0;
		b->hooked_allocation_ = true;
		tell([](Truth &t) { t.hooked(); });
	} else {
		bool ok;
		b->address_ = b->allocator_->allocate_buffer(this, &ok);
		if (!ok)
			return; // tt-metal throws; the scenarios just try something else
		tell([&](Truth &t) { t.allocated(device_id, (int)b->buffer_type_, b->address_, b->size_); });
	}
	b->allocation_status_ = AllocationStatus::ALLOCATED;
#ifdef STANDIN_INLINED_TRACKER
	// A unity build can inline the tracker into its caller: the exported
	// track_allocate is then never called, and a probe on it never fires.
	for (auto &p : GraphTracker::instance().processors)
		p->track_allocate(this);
#else
	GraphTracker::instance().track_allocate(this);
#endif
}

__attribute__((noinline)) void Buffer::deallocate_impl()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	auto *b = state();

	if (b->allocation_status_ != AllocationStatus::ALLOCATED)
		return;
	if (b->device_->is_initialized() && b->size_ != 0) {
		GraphTracker::instance().track_deallocate(this);
		if (!b->hooked_allocation_) {
			int device_id = b->device_->id();
			tell([&](Truth &t) { t.freed(device_id, (int)b->buffer_type_, b->address_); });
			b->allocator_->deallocate_buffer(this);
		}
	}
	// After the device closed: no report, no allocator (it is gone).
	b->allocation_status_ = AllocationStatus::DEALLOCATED;
}

void Buffer::deallocate()
{
	deallocate_impl();
}

Buffer::~Buffer()
{
	if (state()->owns_data_)
		deallocate_impl();
}

// ---- Programs ----

namespace detail {

ProgramImpl::ProgramImpl(std::vector<uint64_t> cb_sizes) : cb_sizes_(std::move(cb_sizes))
{
}

STANDIN_PROGRAM_VISIBILITY __attribute__((noinline)) ProgramImpl::~ProgramImpl()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());

	// tt-metal reports nothing here; the CBs go with the program all the same.
	if (device_) {
		int device_id = device_->id();
		for (const auto &cb : allocated_)
			tell([&](Truth &t) {
				t.cb_released(device_id, this, cb.address, "program_destroyed");
			});
	}
	standin::programs_with_cbs.erase(this);
}

STANDIN_PROGRAM_VISIBILITY __attribute__((noinline)) void
ProgramImpl::allocate_circular_buffers(const IDevice *device)
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	CoreRangeSet cores;
	uint64_t address = standin::CB_BASE;

	if (!allocated_.empty())
		return; // once per program
	device_ = device;
	for (uint64_t size : cb_sizes_) {
		allocated_.push_back({ address, size });
		tell([&](Truth &t) { t.cb_allocated(device->id(), this, address, size); });
		GraphTracker::instance().track_allocate_cb(cores, address, size, false, device);
		address += size;
	}
	standin::programs_with_cbs.insert(this);
}

} // namespace detail

Program::Program(std::vector<uint64_t> cb_sizes)
	: pimpl_(std::make_shared<detail::ProgramImpl>(std::move(cb_sizes)))
{
}

Program::~Program() = default;

void Program::allocate_circular_buffers(const IDevice *device)
{
	pimpl_->allocate_circular_buffers(device);
}

} // namespace tt::tt_metal
