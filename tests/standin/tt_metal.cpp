// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// The stand-in runtime's behaviour, following tt-metal's era-B call flows:
// allocate_impl -> allocator -> track_allocate; deallocate_impl ->
// track_deallocate -> allocator, both skipped once the device is closed;
// CBs and DFBs laid out per program from one L1 base; bank-wide releases
// (BankManager::deallocate_all / clear, under Device::close and
// MeshDevice::close or on their own) and MeshBuffer::deallocate with no
// per-buffer report.
#include "tt_metal.hpp"
#include "truth.hpp"

#include <cstddef>
#include <set>
#include <type_traits>

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
// Passed by value in a register, as tt-metal's AllocatorID is.
static_assert(std::is_trivially_copyable_v<AllocatorID> && sizeof(AllocatorID) == 4);
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
#ifdef STANDIN_MESH_PIMPL
// Newest tt-metal's MeshDevice: vptr at 0, enable_shared_from_this (a weak_ptr, 16 bytes) at 8,
// pimpl_ at 24. Bases are laid out in order, and the two sizes leave the weak_ptr only 8..24.
static_assert(sizeof(IDevice) == 8 && std::is_polymorphic_v<distributed::MeshDevice>);
static_assert(sizeof(std::enable_shared_from_this<distributed::MeshDevice>) == 16);
static_assert(offsetof(distributed::MeshDevice, pimpl_) == 24);
#endif
// devledger reads a bank's type from the bank manager's first word.
static_assert(offsetof(BankManager, buffer_type_) == 0 && !std::is_polymorphic_v<BankManager>);

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

static std::vector<Truth *> observers;
// Programs whose CBs or DFBs are laid out, so that a device close can find them.
static std::set<detail::ProgramImpl *> programs_with_l1;
static std::set<Device *> open_devices;
// The outermost device or mesh close running on this thread: it names every bank-wide release
// under it (a chip closed by its mesh's close releases with "mesh_closed").
static thread_local const char *close_in_progress;
static int next_mesh_id;
static uintptr_t next_cb_id, next_dfb_id;
static uint64_t next_program_id;

class CloseScope {
public:
	explicit CloseScope(const char *reason) : outer_(close_in_progress)
	{
		if (!close_in_progress)
			close_in_progress = reason;
	}
	~CloseScope()
	{
		close_in_progress = outer_;
	}

private:
	const char *outer_;
};

// A bank emptied outside any close: a sub-device manager removed, an allocator cleared.
static const char *bank_release_reason()
{
	return close_in_progress ? close_in_progress : "allocator_clear";
}

// ttnn's NO_DISPATCH capture: every allocation it sees is hooked.
class CaptureHook final : public IGraphHooks {
public:
	bool hook_allocate(const Buffer *) override
	{
		return true;
	}
};

void set_graph_capture_hook(bool on)
{
	if (on)
		GraphTracker::instance().hook = std::make_shared<CaptureHook>();
	else
		GraphTracker::instance().hook.reset();
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

void only_observer(Truth *truth)
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	observers.assign(1, truth);
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

DeviceKey device_key(const IDevice *device)
{
	bool mesh = dynamic_cast<const distributed::MeshDevice *>(device) != nullptr;
	return { mesh ? MESH : CHIP, device->id() };
}

// A closing device's CBs and DFBs go with it, reported to nobody: the programs keep no L1.
static void release_device_program_l1(const IDevice *device, const char *reason)
{
	tell([&](Truth &t) { t.device_program_l1_released(device_key(device), reason); });
	for (auto it = programs_with_l1.begin(); it != programs_with_l1.end();) {
		detail::ProgramImpl *program = *it;
		if (program->l1_device_ != device) {
			++it;
			continue;
		}
		for (auto &cb : program->circular_buffers_)
			cb->locally_allocated_address_.reset();
		for (auto &dfb : program->dataflow_buffers_)
			dfb->allocated_address_.reset();
		program->l1_device_ = nullptr;
		it = programs_with_l1.erase(it);
	}
}

#ifdef STANDIN_TLS_PROCESSORS
// Like newest tt-metal's shared-memory tracker (/dev/shm/tt_device_<id>_memory): bytes in use per
// device and type, summed from the Buffer's own fields. It is real work on every track_* of a
// thread that registered it, which is what makes the tracker's non-empty path the common one.
class SharedMemoryStatsProcessor final : public IGraphProcessor {
public:
	void track_allocate(const Buffer *buffer) override
	{
		add(buffer, 1);
	}
	void track_deallocate(Buffer *buffer) override
	{
		add(buffer, -1);
	}
	void track_allocate_cb(const CoreRangeSet &, uint64_t, uint64_t size, bool,
			       const IDevice *device) override
	{
		std::lock_guard<std::mutex> lock(mutex_);
		cb_bytes_[device->id()] += size;
	}
	// tt-metal's CB free names no CB: every CB of the device goes.
	void track_deallocate_cb(const IDevice *device) override
	{
		std::lock_guard<std::mutex> lock(mutex_);
		cb_bytes_[device->id()] = 0;
	}
	void track_program(Program *, const IDevice *) override
	{
	}

private:
	void add(const Buffer *buffer, int64_t sign)
	{
		const auto *b = buffer->state();
		if (b->hooked_allocation_)
			return;
		std::lock_guard<std::mutex> lock(mutex_);
		bytes_[b->device_->id()][(int)b->buffer_type_] += sign * (int64_t)b->size_;
	}

	std::mutex mutex_;
	std::map<int, std::array<int64_t, 5>> bytes_; // device id -> BufferType -> bytes
	std::map<int, uint64_t> cb_bytes_;
};

// tt-metal registers the tracker on the thread that opens a device: once per thread.
static void register_stats_processor_on_this_thread()
{
	static const auto processor = std::make_shared<SharedMemoryStatsProcessor>();
	auto &processors = GraphTracker::instance().processors;

	for (const auto &p : processors)
		if (p == processor)
			return;
	processors.push_back(processor);
}
#endif

} // namespace standin

namespace tt::tt_metal {

using standin::runtime_mutex;
using standin::tell;
using standin::Truth;

IDevice::~IDevice() = default;
IGraphProcessor::~IGraphProcessor() = default;
IGraphHooks::~IGraphHooks() = default;

// ---- GraphTracker: tt-metal's shape, a loop over registered processors ----

GraphTracker &GraphTracker::instance()
{
	static GraphTracker tracker;
	return tracker;
}

#ifdef STANDIN_TLS_PROCESSORS
thread_local std::vector<std::shared_ptr<IGraphProcessor>> GraphTracker::processors;
thread_local std::shared_ptr<IGraphHooks> GraphTracker::hook;
#endif

// tt-metal's unity build puts graph_tracking.cpp in one unit with buffer.cpp and program.cpp, and
// clang then inlines the tracker into Buffer::allocate_impl, Buffer::deallocate_impl and
// ProgramImpl::allocate_circular_buffers: their uprobes never fire from there. always_inline makes
// that certain here (the stand-in's units are not tt-metal's), while each definition stays an
// exported, out-of-line function for the callers outside this unit. Otherwise noinline keeps
// every call, as g++ and non-unity builds do.
#ifdef STANDIN_UNITY
#define STANDIN_TRACKER_INLINING __attribute__((always_inline))
#else
#define STANDIN_TRACKER_INLINING __attribute__((noinline))
#endif

STANDIN_TRACKER_INLINING void GraphTracker::track_allocate(const Buffer *buffer)
{
	if (processors.empty())
		return;
	for (auto &p : processors)
		p->track_allocate(buffer);
}

STANDIN_TRACKER_INLINING void GraphTracker::track_deallocate(Buffer *buffer)
{
	if (processors.empty())
		return;
	for (auto &p : processors)
		p->track_deallocate(buffer);
}

STANDIN_TRACKER_INLINING void GraphTracker::track_allocate_cb(const CoreRangeSet &core_range_set,
							      uint64_t addr, uint64_t size,
							      bool is_globally_allocated,
							      const IDevice *device)
{
	if (processors.empty())
		return;
	for (auto &p : processors)
		p->track_allocate_cb(core_range_set, addr, size, is_globally_allocated, device);
}

STANDIN_TRACKER_INLINING void GraphTracker::track_deallocate_cb(const IDevice *device)
{
	if (processors.empty())
		return;
	for (auto &p : processors)
		p->track_deallocate_cb(device);
}

STANDIN_TRACKER_INLINING void GraphTracker::track_program(Program *program, const IDevice *device)
{
	if (processors.empty())
		return;
	for (auto &p : processors)
		p->track_program(program, device);
}

bool GraphTracker::hook_allocate(const Buffer *buffer)
{
	return hook && hook->hook_allocate(buffer);
}

// ---- BankManager and Allocator ----

static constexpr DeviceAddr DRAM_BANK_SIZE = 1ULL << 30;
static constexpr unsigned int DRAM_BANKS = 12;

static DeviceAddr round_up(DeviceAddr value, DeviceAddr align)
{
	return (value + align - 1) / align * align;
}

BankManager::BankManager(const IDevice *owner, BufferType type, DeviceAddr base, DeviceAddr top,
			 DeviceAddr align, unsigned int interleave)
	: buffer_type_(type), owner_(owner), base_(base), top_(top), align_(align),
	  interleave_(interleave)
{
}

DeviceAddr BankManager::allocate_buffer(DeviceAddr size, bool bottom_up, bool *ok)
{
	DeviceAddr need = round_up((size + interleave_ - 1) / interleave_, align_);
	DeviceAddr found = 0;

	*ok = false;
	if (bottom_up) {
		DeviceAddr at = base_;
		for (const auto &[addr, footprint] : used_) {
			if (addr - at >= need)
				break;
			at = std::max(at, addr + footprint);
		}
		if (at + need <= top_) {
			found = at;
			*ok = true;
		}
	} else {
		DeviceAddr end = top_;
		for (auto it = used_.rbegin(); it != used_.rend(); ++it) {
			DeviceAddr top_of_used = it->first + it->second;
			if (end >= top_of_used && end - top_of_used >= need)
				break;
			end = std::min(end, it->first);
		}
		if (end >= base_ + need) {
			found = end - need;
			*ok = true;
		}
	}
	if (*ok) {
		used_[found] = need;
		requested_[found] = size;
	}
	return found;
}

#if defined(STANDIN_BANK_TAIL_CALL) && !defined(STANDIN_ERA_C)
// Era B's shape: a few bytes that load the bank's algorithm and tail-call it. Its first
// instruction is a mov, which a probe there single-steps.
__attribute__((noinline)) void BankManager::deallocate_buffer(DeviceAddr address)
{
	algorithm_ptr_->deallocate(address);
}

__attribute__((noinline)) void BankManager::Algorithm::deallocate(DeviceAddr address)
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());

	bank->used_.erase(address);
	bank->requested_.erase(address);
}
#else
#ifdef STANDIN_ERA_C
// One allocator per bank here: the id (tt-metal's per sub-device allocators) selects nothing.
__attribute__((noinline)) void BankManager::deallocate_buffer(DeviceAddr address, AllocatorID)
#else
__attribute__((noinline)) void BankManager::deallocate_buffer(DeviceAddr address)
#endif
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());

	used_.erase(address);
	requested_.erase(address);
}
#endif

// What deallocate_all and clear share. Neither goes through deallocate_buffer (tt-metal frees
// straight in the bank's algorithm), so a probe there never sees these addresses.
void BankManager::release_all()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	const char *reason = standin::bank_release_reason();
	standin::DeviceKey owner = standin::device_key(owner_);

	for (const auto &allocation : requested_)
		tell([&](Truth &t) {
			t.released(owner, (int)buffer_type_, allocation.first, reason);
		});
	used_.clear();
	requested_.clear();
}

__attribute__((noinline)) void BankManager::deallocate_all()
{
	release_all();
}

void BankManager::clear()
{
	release_all();
}

Allocator::STANDIN_ALLOCATOR(const IDevice *owner, bool sub_device)
{
	if (sub_device) {
		// Local L1 only: the other banks are empty ranges.
		for (int type = 0; type <= (int)BufferType::TRACE; type++)
			banks_[type] = std::make_unique<BankManager>(owner, (BufferType)type, 0, 0, 32,
								     1);
		banks_[(int)BufferType::L1] = std::make_unique<BankManager>(
			owner, BufferType::L1, 1499136, 1499136 + 131072, 32, 1);
		return;
	}
	// base, top, alignment per bank, interleaving
	banks_[(int)BufferType::DRAM] = std::make_unique<BankManager>(
		owner, BufferType::DRAM, 0, DRAM_BANK_SIZE, 2048, DRAM_BANKS);
	banks_[(int)BufferType::L1] =
		std::make_unique<BankManager>(owner, BufferType::L1, 262144, 1499136, 32, 1);
	banks_[(int)BufferType::SYSTEM_MEMORY] = std::make_unique<BankManager>(
		owner, BufferType::SYSTEM_MEMORY, 0, 1ULL << 28, 32, 1);
	banks_[(int)BufferType::L1_SMALL] =
		std::make_unique<BankManager>(owner, BufferType::L1_SMALL, 16384, 98304, 32, 1);
	banks_[(int)BufferType::TRACE] = std::make_unique<BankManager>(
		owner, BufferType::TRACE, 0, 256ULL << 20, 2048, DRAM_BANKS);
}

Allocator::~STANDIN_ALLOCATOR() = default;

__attribute__((noinline)) DeviceAddr Allocator::allocate_buffer(Buffer *buffer, bool *ok)
{
	auto *b = buffer->state();
	return bank(b->buffer_type_).allocate_buffer(b->size_, b->bottom_up_, ok);
}

__attribute__((noinline)) void Allocator::deallocate_buffer(Buffer *buffer)
{
	auto *b = buffer->state();
#ifdef STANDIN_ERA_C
	bank(b->buffer_type_).deallocate_buffer(b->address_, AllocatorID{ 0 });
#else
	bank(b->buffer_type_).deallocate_buffer(b->address_);
#endif
}

__attribute__((noinline)) void Allocator::deallocate_buffers()
{
	for (auto &bank : banks_)
		bank->deallocate_all();
}

__attribute__((noinline)) void Allocator::clear()
{
	for (auto &bank : banks_)
		bank->clear();
}

// ---- Device ----

Device::Device(int id) : id_(id), initialized_(true), allocator_(new Allocator(this))
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	standin::open_devices.insert(this);
#ifdef STANDIN_TLS_PROCESSORS
	standin::register_stats_processor_on_this_thread();
#endif
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

Allocator *Device::create_sub_device_manager()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());

	if (!sub_device_allocator_)
		sub_device_allocator_ = new Allocator(this, true);
	return sub_device_allocator_;
}

void Device::remove_sub_device_manager()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());

	if (sub_device_allocator_)
		sub_device_allocator_->deallocate_buffers();
}

__attribute__((noinline)) bool Device::close()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	standin::CloseScope scope("device_closed");

	if (!initialized_)
		return false;
	// Program cache first: its binaries are freed on the tracked path.
	for (auto &binary : program_cache_)
		binary->deallocate();
	program_cache_.clear();

	// tt-metal: sub_device_manager_tracker_.reset() -> ~SubDeviceManager ->
	// allocator->deallocate_buffers(). What the banks still held goes without a report.
	allocator_->deallocate_buffers();
	if (sub_device_allocator_)
		sub_device_allocator_->deallocate_buffers();
	standin::release_device_program_l1(this, standin::close_in_progress);
	delete allocator_;
	allocator_ = nullptr;
	delete sub_device_allocator_;
	sub_device_allocator_ = nullptr;
	initialized_ = false;
	standin::open_devices.erase(this);
	return true;
}

// ---- MeshDevice ----

namespace distributed {

MeshDevice::MeshDevice(std::shared_ptr<std::vector<Device *>> chips)
#ifdef STANDIN_MESH_PIMPL
	: pimpl_(std::make_unique<MeshDeviceImpl>())
#endif
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	auto *m = state();

	m->scoped_devices_ = std::move(chips);
	m->allocator_ = new Allocator(this);
	m->initialized_ = true;
	m->mesh_id_ = standin::next_mesh_id++;
	m->is_internal_state_initialized_ = true;
}

std::shared_ptr<MeshDevice> MeshDevice::create(const std::vector<int> &chip_ids)
{
	auto chips = std::make_shared<std::vector<Device *>>();
	for (int id : chip_ids)
		chips->push_back(new Device(id));
	return std::make_shared<MeshDevice>(std::move(chips));
}

MeshDevice::~MeshDevice()
{
	close();
	for (Device *chip : *state()->scoped_devices_)
		delete chip;
	delete state()->allocator_;
}

int MeshDevice::id() const
{
	return state()->mesh_id_;
}

bool MeshDevice::is_initialized() const
{
	return state()->initialized_;
}

Allocator *MeshDevice::allocator() const
{
	return state()->allocator_;
}

__attribute__((noinline)) bool MeshDevice::close()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	standin::CloseScope scope("mesh_closed");
	auto *m = state();

	if (!m->initialized_)
		return false;
	// What the mesh allocator still holds, then each chip: all of it goes as "mesh_closed".
	m->allocator_->deallocate_buffers();
	standin::release_device_program_l1(this, standin::close_in_progress);
	for (Device *chip : *m->scoped_devices_)
		chip->close();
	m->initialized_ = false;
	return true;
}

// ---- MeshBuffer ----

std::shared_ptr<MeshBuffer> MeshBuffer::create(MeshDevice *mesh, DeviceAddr size,
					       DeviceAddr page_size, BufferType type,
					       bool bottom_up)
{
	// One backing buffer on the mesh: one track_allocate, its size per chip.
	auto backing = Buffer::create(mesh, size, page_size, type, bottom_up);
	if (!backing)
		return nullptr;
	return std::make_shared<MeshBuffer>(mesh, std::move(backing));
}

MeshBuffer::MeshBuffer(MeshDevice *mesh, std::shared_ptr<Buffer> backing)
	: mesh_(mesh), backing_(std::move(backing))
{
}

MeshBuffer::~MeshBuffer()
{
	deallocate();
}

void MeshBuffer::deallocate()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	auto *b = backing_->state();

	if (!backing_->is_allocated())
		return;
	if (mesh_->is_initialized()) {
		mesh_->allocator()->deallocate_buffer(backing_.get());
		tell([&](Truth &t) {
			t.released(standin::device_key(mesh_), (int)b->buffer_type_, b->address_,
				   "allocator_free");
		});
	}
	// Never through deallocate_impl: the backing buffer reports nothing.
	backing_->mark_as_deallocated();
}

} // namespace distributed

// ---- Buffer ----

Buffer::Buffer(IDevice *device, DeviceAddr size, DeviceAddr page_size, BufferType type,
	       bool bottom_up, Allocator *allocator)
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
	b->allocator_ = allocator ? allocator : device->allocator();
	b->allocation_status_ = AllocationStatus::ALLOCATION_REQUESTED;
	b->hooked_allocation_ = false;
	b->address_ = 0;
	b->page_size_ = page_size;
}

namespace tensor_ops {

// Each calls the next and does something after it, so that the call stays a call (no tail
// jump that would drop the frame).
__attribute__((noinline)) std::shared_ptr<Buffer> place_pages(IDevice *device, DeviceAddr size,
							      BufferType type)
{
	auto buffer = Buffer::create(device, size, 1024, type, true);
	__asm__ volatile("" ::: "memory");
	return buffer;
}

__attribute__((noinline)) std::shared_ptr<Buffer> allocate_interleaved(IDevice *device,
								       DeviceAddr size,
								       BufferType type)
{
	auto buffer = place_pages(device, size, type);
	__asm__ volatile("" ::: "memory");
	return buffer;
}

__attribute__((noinline)) std::shared_ptr<Buffer> allocate_tensor_storage(IDevice *device,
									  DeviceAddr size,
									  BufferType type)
{
	auto buffer = allocate_interleaved(device, size, type);
	__asm__ volatile("" ::: "memory");
	return buffer;
}

__attribute__((noinline)) std::shared_ptr<Buffer> create_device_tensor(IDevice *device,
								       DeviceAddr size,
								       BufferType type)
{
	auto buffer = allocate_tensor_storage(device, size, type);
	__asm__ volatile("" ::: "memory");
	return buffer;
}

} // namespace tensor_ops

std::shared_ptr<Buffer> Buffer::create(IDevice *device, DeviceAddr size, DeviceAddr page_size,
				       BufferType type, bool bottom_up, Allocator *allocator)
{
	auto buffer = std::make_shared<Buffer>(device, size, page_size, type, bottom_up, allocator);
	// Held around the call, not only inside it: where devledger probes allocate_impl's entry
	// and return instead of the tracker, those too are in the order the ground truth has.
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
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
	standin::DeviceKey device = standin::device_key(b->device_);

	if (GraphTracker::instance().hook_allocate(this)) {
		// ttnn's NO_DISPATCH graph capture: nothing is really allocated.
		b->address_ = 0;
		b->hooked_allocation_ = true;
		tell([](Truth &t) { t.hooked(); });
	} else {
		bool ok;
		b->address_ = b->allocator_->allocate_buffer(this, &ok);
		if (!ok)
			return; // tt-metal throws; the scenarios just try something else
		tell([&](Truth &t) {
			t.allocated(device, (int)b->buffer_type_, b->address_, b->size_);
		});
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
			standin::DeviceKey device = standin::device_key(b->device_);
			tell([&](Truth &t) { t.freed(device, (int)b->buffer_type_, b->address_); });
			b->allocator_->deallocate_buffer(this);
		}
	}
	// After the device closed: no report, no allocator (it is gone).
	b->allocation_status_ = AllocationStatus::DEALLOCATED;
}

// As around allocate_impl: its entry is in the ground truth's order too.
void Buffer::deallocate()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	deallocate_impl();
}

void Buffer::mark_as_deallocated()
{
	state()->allocation_status_ = AllocationStatus::DEALLOCATED;
}

Buffer::~Buffer()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	if (state()->owns_data_)
		deallocate_impl();
}

// ---- Programs ----

CircularBufferConfig::CircularBufferConfig(uint32_t total_size) : total_size_(total_size)
{
}

CircularBufferConfig &CircularBufferConfig::set_page_size(uint8_t buffer_index, uint32_t page_size)
{
	page_sizes_.at(buffer_index) = page_size;
	return *this;
}

CircularBufferConfig &CircularBufferConfig::set_globally_allocated_address(const Buffer &buffer)
{
	globally_allocated_address_ = (uint32_t)buffer.state()->address_;
	shadow_global_buffer_ = &buffer;
	return *this;
}

CircularBuffer::CircularBuffer(const CoreRangeSet &core_ranges, const CircularBufferConfig &config)
	: id_(++standin::next_cb_id), core_ranges_(core_ranges), config_(config)
{
}

DataflowBufferImpl::DataflowBufferImpl(const CoreRangeSet &core_ranges,
				       const DataflowBufferConfig &config)
	: id_(++standin::next_dfb_id), core_ranges_(core_ranges), config_(config),
	  total_size_(config.entry_size * config.num_entries)
{
}

namespace detail {

ProgramImpl::ProgramImpl() : id(standin::next_program_id++)
{
}

uintptr_t ProgramImpl::add_circular_buffer(const CoreRangeSet &core_range_set,
					   const CircularBufferConfig &config)
{
	auto cb = std::make_shared<CircularBuffer>(core_range_set, config);

	circular_buffers_.push_back(cb);
	circular_buffer_by_id_[cb->id_] = cb;
	local_circular_buffer_allocation_needed_ = true;
	return cb->id_;
}

uintptr_t ProgramImpl::add_dataflow_buffer(const CoreRangeSet &core_range_set,
					   const DataflowBufferConfig &config)
{
	auto dfb = std::make_shared<DataflowBufferImpl>(core_range_set, config);

	dataflow_buffers_.push_back(dfb);
	local_dataflow_buffer_allocation_needed_ = true;
	return dfb->id_;
}

STANDIN_PROGRAM_VISIBILITY __attribute__((noinline)) ProgramImpl::~ProgramImpl()
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());

	// tt-metal reports nothing here; the CBs and DFBs go with the program all the same.
	if (l1_device_) {
		standin::DeviceKey device = standin::device_key(l1_device_);
		for (const auto &cb : circular_buffers_)
			if (cb->locally_allocated_address_)
				tell([&](Truth &t) {
					t.program_l1_released(device, standin::CB, this,
							      *cb->locally_allocated_address_,
							      "program_destroyed");
				});
		for (const auto &dfb : dataflow_buffers_)
			if (dfb->allocated_address_)
				tell([&](Truth &t) {
					t.program_l1_released(device, standin::DFB, this,
							      *dfb->allocated_address_,
							      "program_destroyed");
				});
	}
	standin::programs_with_l1.erase(this);
}

// The scenarios add every CB before a program's first layout, so a layout never replaces one.
STANDIN_PROGRAM_VISIBILITY __attribute__((noinline)) void
ProgramImpl::allocate_circular_buffers(const IDevice *device)
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	uint64_t address = standin::CB_BASE;

	if (!local_circular_buffer_allocation_needed_)
		return;
	l1_device_ = device;
	for (const auto &cb : circular_buffers_) {
		// Inside an L1 Buffer that tracked its own allocation: no program L1, no report.
		if (cb->globally_allocated())
			continue;
		cb->locally_allocated_address_ = (uint32_t)address;
		tell([&](Truth &t) {
			t.program_l1_allocated(standin::device_key(device), standin::CB, this,
					       address, cb->size());
		});
		GraphTracker::instance().track_allocate_cb(cb->core_ranges_, address, cb->size(),
							   false, device);
		address += cb->size();
	}
	local_circular_buffer_allocation_needed_ = false;
	standin::programs_with_l1.insert(this);
}

// Laid out like CBs, from the same base; newest tt-metal reports none of it to GraphTracker.
STANDIN_PROGRAM_VISIBILITY __attribute__((noinline)) void
ProgramImpl::allocate_dataflow_buffers(const IDevice *device)
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	uint64_t address = standin::CB_BASE;

	if (!local_dataflow_buffer_allocation_needed_)
		return;
	l1_device_ = device;
	for (const auto &dfb : dataflow_buffers_) {
		dfb->allocated_address_ = (uint32_t)address;
		tell([&](Truth &t) {
			t.program_l1_allocated(standin::device_key(device), standin::DFB, this,
					       address, dfb->total_size_);
		});
		address += dfb->total_size_;
	}
	local_dataflow_buffer_allocation_needed_ = false;
	standin::programs_with_l1.insert(this);
}

} // namespace detail

Program::Program() : pimpl_(std::make_shared<detail::ProgramImpl>())
{
}

Program::~Program() = default;

void Program::allocate_circular_buffers(const IDevice *device)
{
	pimpl_->allocate_circular_buffers(device);
}

void Program::allocate_dataflow_buffers(const IDevice *device)
{
	pimpl_->allocate_dataflow_buffers(device);
}

CBHandle CreateCircularBuffer(Program &program, const CoreRangeSet &core_spec,
			      const CircularBufferConfig &config)
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	return program.impl().add_circular_buffer(core_spec, config);
}

DFBHandle CreateDataflowBuffer(Program &program, const CoreRangeSet &core_spec,
			       const DataflowBufferConfig &config)
{
	std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
	return program.impl().add_dataflow_buffer(core_spec, config);
}

} // namespace tt::tt_metal
