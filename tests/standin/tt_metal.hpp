// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// A stand-in for tt-metal's libtt_metal.so: the classes, member layouts,
// mangled names and call flows devledger reads (era B), with no hardware
// behind them. Declared in tt-metal's own namespaces so that every symbol
// has tt-metal's mangled name. Compile flags pick newer shapes: STANDIN_ERA_C
// (pimpl Buffer, AllocatorImpl), STANDIN_TLS_PROCESSORS (per-thread
// GraphTracker processors, one registered when a thread opens a device),
// STANDIN_MESH_PIMPL (MeshDevice's state behind MeshDeviceImpl) and
// STANDIN_UNITY (the tracker inlined into its callers, as a unity build).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "truth.hpp"

// tt-metal's core grid types live in the global namespace (track_allocate_cb's mangled name has
// `12CoreRangeSet`). Only their shape matters here: nothing reads the cores.
struct CoreCoord {
	uint64_t x = 0, y = 0;
};

struct CoreRange {
	CoreCoord start_coord, end_coord;
};

class CoreRangeSet {
public:
	CoreRangeSet() : ranges_{ CoreRange{} }
	{
	}
	uint32_t num_cores() const
	{
		uint32_t cores = 0;
		for (const CoreRange &r : ranges_)
			cores += (uint32_t)((r.end_coord.x - r.start_coord.x + 1) *
					    (r.end_coord.y - r.start_coord.y + 1));
		return cores;
	}

	std::vector<CoreRange> ranges_;
};

#ifdef STANDIN_ERA_C
namespace ttsl {
// tt-metal's strong typedef: one value and nothing else, trivially copyable, so it is passed in a
// register (AllocatorID is in edx at BankManager::deallocate_buffer's entry).
template <typename T, typename Tag> class StrongType {
public:
	constexpr explicit StrongType(T value) : value_(value)
	{
	}
	constexpr T operator*() const
	{
		return value_;
	}

private:
	T value_;
};
} // namespace ttsl
#endif

// Era C renamed the allocator class: its mangled names are one way a library shows its era.
#ifdef STANDIN_ERA_C
#define STANDIN_ALLOCATOR AllocatorImpl
#else
#define STANDIN_ALLOCATOR Allocator
#endif

namespace tt::tt_metal {

using DeviceAddr = uint64_t;

enum class BufferType : int { DRAM, L1, SYSTEM_MEMORY, L1_SMALL, TRACE };
enum class TensorMemoryLayout : int { INTERLEAVED, SINGLE_BANK };
enum class AllocationStatus : uint8_t { ALLOCATION_REQUESTED, ALLOCATED, DEALLOCATED };

class Buffer;
class Program;
class STANDIN_ALLOCATOR;
#ifdef STANDIN_ERA_C
using Allocator = AllocatorImpl;
struct AllocatorIDTag;
using AllocatorID = ttsl::StrongType<uint32_t, AllocatorIDTag>;
#endif

class IDevice {
public:
	virtual ~IDevice();
	virtual int id() const = 0;
	virtual bool is_initialized() const = 0;
	virtual Allocator *allocator() const = 0;
};

// A physical chip. tt-metal's Device starts with `ChipId id_` right after the vptr.
class Device final : public IDevice {
public:
	explicit Device(int id);
	~Device() override;
	int id() const override;
	bool is_initialized() const override;
	Allocator *allocator() const override
	{
		return allocator_;
	}
	// Clears the program cache (its binaries are freed with tracking), then releases what
	// the allocator still holds and the CBs, and drops the allocator: none of that is reported.
	bool close();
	// Kernel binaries of cached programs, freed by close().
	void cache_program_binary(std::shared_ptr<Buffer> binary);
	// A sub-device manager with local L1: its own allocator, over an L1 range of its own.
	Allocator *create_sub_device_manager();
	// ~SubDeviceManager: its allocator's deallocate_buffers, nothing else touched. The
	// allocator object stays until close, for Buffers that still point at it.
	void remove_sub_device_manager();

	int id_;
	bool initialized_;
	Allocator *allocator_;
	std::vector<std::shared_ptr<Buffer>> program_cache_;
	Allocator *sub_device_allocator_ = nullptr;
};

// One address range of one buffer type; first fit upward or downward. No vptr: the buffer type
// is the first word, which is how devledger tells which bank a deallocate_all empties.
class BankManager {
public:
	BankManager(const IDevice *owner, BufferType type, DeviceAddr base, DeviceAddr top,
		    DeviceAddr align, unsigned int interleave);
	// 0 with *ok = false when the bank is full.
	DeviceAddr allocate_buffer(DeviceAddr size, bool bottom_up, bool *ok);
	// An address the bank does not hold is ignored.
#ifdef STANDIN_ERA_C
	void deallocate_buffer(DeviceAddr address, AllocatorID allocator_id);
#else
	void deallocate_buffer(DeviceAddr address);
#endif
	// Both release everything the bank holds with no per-buffer report.
	void deallocate_all();
	void clear();

	BufferType buffer_type_;
	const IDevice *owner_; // whose memory it is, for the ground truth
	DeviceAddr base_, top_, align_;
	unsigned int interleave_; // DRAM spreads a buffer over 12 banks
	std::map<DeviceAddr, DeviceAddr> used_; // address -> footprint per bank
	std::map<DeviceAddr, DeviceAddr> requested_; // address -> requested size
#ifdef STANDIN_BANK_TAIL_CALL
	// Era B's small deallocate_buffer: load the bank's algorithm, tail-call it.
	struct Algorithm {
		BankManager *bank;
		void deallocate(DeviceAddr address);
	};
	Algorithm algorithm_{ this };
	Algorithm *algorithm_ptr_ = &algorithm_;
#endif

private:
	void release_all();
};

// One bank manager per buffer type.
class STANDIN_ALLOCATOR {
public:
	// A sub-device's allocator manages only an L1 range above the default one.
	explicit STANDIN_ALLOCATOR(const IDevice *owner, bool sub_device = false);
	~STANDIN_ALLOCATOR();
	// 0 with *ok = false when the bank is full.
	DeviceAddr allocate_buffer(Buffer *buffer, bool *ok);
	void deallocate_buffer(Buffer *buffer);
	// Every bank's deallocate_all: what ~SubDeviceManager (and so Device::close) does.
	void deallocate_buffers();
	// Every bank's clear.
	void clear();
	BankManager &bank(BufferType type) const
	{
		return *banks_[(int)type];
	}

private:
	std::unique_ptr<BankManager> banks_[5];
};

#ifdef STANDIN_ERA_C
// Era C (late 2025 on): Buffer is a pimpl; its state lives in BufferImpl.
class BufferImpl {
public:
	IDevice *device_;
	DeviceAddr size_;
	BufferType buffer_type_;
	TensorMemoryLayout buffer_layout_;
	bool bottom_up_;
	bool owns_data_;
	uint8_t unused_[6];
	uint64_t shard_parameters_[2];
	Allocator *allocator_;
	AllocationStatus allocation_status_;
	bool hooked_allocation_;
	DeviceAddr address_;
	DeviceAddr page_size_;
};
#endif

class Buffer final : public std::enable_shared_from_this<Buffer> {
public:
	// With an allocator: from that one (a sub-device's) instead of the device's own.
	static std::shared_ptr<Buffer> create(IDevice *device, DeviceAddr size, DeviceAddr page_size,
					      BufferType type, bool bottom_up,
					      Allocator *allocator = nullptr);
	// A Buffer object that was never allocated (for modelling a runtime bug).
	static std::shared_ptr<Buffer> forged(IDevice *device, DeviceAddr size, BufferType type,
					      DeviceAddr address);
	Buffer(IDevice *device, DeviceAddr size, DeviceAddr page_size, BufferType type, bool bottom_up,
	       Allocator *allocator = nullptr);
	~Buffer();
	void deallocate();
	// Deallocated with no report and no allocator call: the caller released the memory itself.
	void mark_as_deallocated();
	bool is_allocated() const
	{
		return state()->allocation_status_ == AllocationStatus::ALLOCATED;
	}

#ifdef STANDIN_ERA_C
	std::unique_ptr<BufferImpl> impl_;
	BufferImpl *state() const { return impl_.get(); }
#else
	// The era-B member order; the offsets devledger reads are checked in tt_metal.cpp.
	IDevice *device_;
#ifdef STANDIN_SHIFTED
	// A build whose Buffer differs from era B's presets: only its DWARF tells where fields are.
	uint64_t shifted_by_;
#endif
	DeviceAddr size_;
	BufferType buffer_type_;
	TensorMemoryLayout buffer_layout_;
	bool bottom_up_;
	bool sub_device_flags_[2];
	bool owns_data_;
	uint32_t unused_;
	uint64_t shard_parameters_[2];
	Allocator *allocator_;
	AllocationStatus allocation_status_;
	bool hooked_allocation_;
	DeviceAddr address_;
	DeviceAddr page_size_;
	Buffer *state() const { return const_cast<Buffer *>(this); }
#endif

private:
	void allocate_impl();
	void deallocate_impl();
};

class IGraphProcessor {
public:
	virtual ~IGraphProcessor();
	virtual void track_allocate(const Buffer *buffer) = 0;
	virtual void track_deallocate(Buffer *buffer) = 0;
	virtual void track_allocate_cb(const CoreRangeSet &ranges, uint64_t addr, uint64_t size,
				       bool is_globally_allocated, const IDevice *device) = 0;
	virtual void track_deallocate_cb(const IDevice *device) = 0;
	virtual void track_program(Program *program, const IDevice *device) = 0;
};

// What a ttnn graph capture installs: an allocation it hooks is never really made.
class IGraphHooks {
public:
	virtual ~IGraphHooks();
	virtual bool hook_allocate(const Buffer *buffer) = 0;
};

// Newest tt-metal keeps the processors and the hook per thread: each track_* then starts with a
// call to the TLS wrapper, and a thread that never registered a processor returns at once.
#ifdef STANDIN_TLS_PROCESSORS
#define STANDIN_TRACKER_STATE static thread_local
#else
#define STANDIN_TRACKER_STATE
#endif

// tt-metal calls every track_* unconditionally; each returns at once with no processor.
class GraphTracker {
public:
	static GraphTracker &instance();
	void track_allocate(const Buffer *buffer);
	void track_deallocate(Buffer *buffer);
	void track_allocate_cb(const CoreRangeSet &core_range_set, uint64_t addr, uint64_t size,
			       bool is_globally_allocated, const IDevice *device);
	void track_deallocate_cb(const IDevice *device);
	void track_program(Program *program, const IDevice *device);
	// True while a hook takes allocations over (Buffer::allocate_impl then allocates nothing).
	bool hook_allocate(const Buffer *buffer);

	STANDIN_TRACKER_STATE std::vector<std::shared_ptr<IGraphProcessor>> processors;
	STANDIN_TRACKER_STATE std::shared_ptr<IGraphHooks> hook;
};

// tt-metal's limit on CB indices per core.
constexpr int NUM_CIRCULAR_BUFFERS = 32;

// How a kernel asks for a CB: its size, its pages, and, when it lives inside an L1 Buffer
// (a sharded tensor), that buffer's address: a globally allocated CB takes no program L1.
class CircularBufferConfig {
public:
	explicit CircularBufferConfig(uint32_t total_size);
	CircularBufferConfig &set_page_size(uint8_t buffer_index, uint32_t page_size);
	CircularBufferConfig &set_globally_allocated_address(const Buffer &buffer);

	uint32_t total_size_ = 0;
	std::optional<uint32_t> globally_allocated_address_;
	std::array<std::optional<uint32_t>, NUM_CIRCULAR_BUFFERS> page_sizes_;
	const Buffer *shadow_global_buffer_ = nullptr;
};

class CircularBuffer {
public:
	CircularBuffer(const CoreRangeSet &core_ranges, const CircularBufferConfig &config);
	bool globally_allocated() const
	{
		return config_.globally_allocated_address_.has_value();
	}
	uint32_t size() const
	{
		return config_.total_size_;
	}

	uintptr_t id_;
	CoreRangeSet core_ranges_;
	CircularBufferConfig config_;
	// Set by ProgramImpl::allocate_circular_buffers for a CB that is not globally allocated.
	std::optional<uint32_t> locally_allocated_address_;
};

// Metal 2.0's dataflow buffers: program-scope L1 like CBs, sized as entries of one size.
struct DataflowBufferConfig {
	uint32_t entry_size = 0;
	uint32_t num_entries = 0;
	uint8_t producer_risc_mask = 0;
	uint8_t consumer_risc_mask = 0;
};

class DataflowBufferImpl {
public:
	DataflowBufferImpl(const CoreRangeSet &core_ranges, const DataflowBufferConfig &config);

	uintptr_t id_;
	CoreRangeSet core_ranges_;
	DataflowBufferConfig config_;
	uint32_t total_size_;
	// Set by ProgramImpl::allocate_dataflow_buffers.
	std::optional<uint32_t> allocated_address_;
};

namespace detail {
// A program has CBs or dataflow buffers, laid out upward from the L1 allocator base once per
// program (until a change invalidates the layout): every program reuses the same L1 range.
class ProgramImpl {
public:
	ProgramImpl();
	~ProgramImpl();
	uintptr_t add_circular_buffer(const CoreRangeSet &core_range_set,
				      const CircularBufferConfig &config);
	uintptr_t add_dataflow_buffer(const CoreRangeSet &core_range_set,
				      const DataflowBufferConfig &config);
	// One track_allocate_cb per CB that is not globally allocated.
	void allocate_circular_buffers(const IDevice *device);
	// No tracker hook at all: only this function's effects show where DFBs are.
	void allocate_dataflow_buffers(const IDevice *device);

	uint64_t id;
	uint64_t runtime_id = 0;
	std::vector<std::shared_ptr<CircularBuffer>> circular_buffers_;
	std::unordered_map<uintptr_t, std::shared_ptr<CircularBuffer>> circular_buffer_by_id_;
	bool local_circular_buffer_allocation_needed_ = true;
	std::vector<std::shared_ptr<DataflowBufferImpl>> dataflow_buffers_;
	bool local_dataflow_buffer_allocation_needed_ = true;
	// Not tt-metal's: the device the program's L1 was laid out on, so that ~ProgramImpl and a
	// device close can tell the ground truth what went.
	const IDevice *l1_device_ = nullptr;
};
} // namespace detail

class Program {
public:
	Program();
	~Program();
	detail::ProgramImpl &impl() { return *pimpl_; }
	// What the runtime calls when the program is enqueued: lays out its CBs, or its DFBs.
	void allocate_circular_buffers(const IDevice *device);
	void allocate_dataflow_buffers(const IDevice *device);

	std::shared_ptr<detail::ProgramImpl> pimpl_;
};

using CBHandle = uintptr_t;
using DFBHandle = uintptr_t;
// tt-metal's host API: a CB (or a DFB) added to a program invalidates its L1 layout.
CBHandle CreateCircularBuffer(Program &program, const CoreRangeSet &core_spec,
			      const CircularBufferConfig &config);
DFBHandle CreateDataflowBuffer(Program &program, const CoreRangeSet &core_spec,
			       const DataflowBufferConfig &config);

namespace distributed {

#ifdef STANDIN_MESH_PIMPL
// Newest tt-metal: MeshDevice is a pimpl and its state, the mesh id with it, lives here.
class MeshDeviceImpl {
public:
	std::mutex api_mutex_;
	bool is_internal_state_initialized_ = false;
	std::shared_ptr<std::vector<Device *>> scoped_devices_;
	int mesh_id_;
	Allocator *allocator_;
	bool initialized_;
};
#endif

// Chips driven in lockstep, with one allocator of its own that places every MeshBuffer at the same
// address on each chip. Its members are a subset of tt-metal's, in tt-metal's order.
class MeshDevice final : public IDevice
#ifdef STANDIN_MESH_PIMPL
	, public std::enable_shared_from_this<MeshDevice>
#endif
{
public:
	// Opens one Device per chip id.
	static std::shared_ptr<MeshDevice> create(const std::vector<int> &chip_ids);
	explicit MeshDevice(std::shared_ptr<std::vector<Device *>> chips);
	~MeshDevice() override;
	// A process-wide mesh counter from 0, as in tt-metal: mesh 0 is not chip 0.
	int id() const override;
	bool is_initialized() const override;
	Allocator *allocator() const override;
	// Releases what the mesh allocator still holds, then closes every chip.
	bool close();
	const std::vector<Device *> &get_devices() const
	{
		return *state()->scoped_devices_;
	}

#ifdef STANDIN_MESH_PIMPL
	std::unique_ptr<MeshDeviceImpl> pimpl_;
	MeshDeviceImpl *state() const { return pimpl_.get(); }
#else
	std::mutex api_mutex_;
	bool is_internal_state_initialized_ = false;
	std::shared_ptr<std::vector<Device *>> scoped_devices_;
	int mesh_id_;
	Allocator *allocator_;
	bool initialized_;
	MeshDevice *state() const { return const_cast<MeshDevice *>(this); }
#endif
};

// A buffer allocated at one address on every chip of a mesh. Only its backing Buffer (on the
// MeshDevice) reports anything: tt-metal's per-chip buffers are views that report nothing.
class MeshBuffer {
public:
	static std::shared_ptr<MeshBuffer> create(MeshDevice *mesh, DeviceAddr size,
						  DeviceAddr page_size, BufferType type,
						  bool bottom_up);
	MeshBuffer(MeshDevice *mesh, std::shared_ptr<Buffer> backing);
	~MeshBuffer();
	// Newer tt-metal: the mesh allocator frees the address directly, with no track_deallocate.
	void deallocate();
	// For freeing the backing buffer the tracked way instead.
	const std::shared_ptr<Buffer> &backing() const
	{
		return backing_;
	}

private:
	MeshDevice *mesh_;
	std::shared_ptr<Buffer> backing_;
};

} // namespace distributed

} // namespace tt::tt_metal

namespace tt::tt_metal::tensor_ops {

// A ttnn-like layer above Buffer::create, as a real allocation comes from: four named frames,
// none inlined, so that the stack of every allocation made through it passes them in order
// (seven frames of this library with Buffer::create, allocate_impl and the tracker).
std::shared_ptr<Buffer> create_device_tensor(IDevice *device, DeviceAddr size, BufferType type);

} // namespace tt::tt_metal::tensor_ops

namespace standin {

// How the ground truth names a device: chips and meshes are numbered independently.
DeviceKey device_key(const tt::tt_metal::IDevice *device);

// Where every program's CBs (and DFBs) start, as tt-metal's L1 allocator base.
constexpr uint64_t CB_BASE = 101152;

// While on, allocations made on this thread are hooked (ttnn graph capture): address 0, never
// allocated.
void set_graph_capture_hook(bool on);

// Serialises each runtime action with its report, so reports and ground truth share one order.
std::recursive_mutex &runtime_mutex();

// Observers that record the ground truth; the runtime tells each what really happened.
void add_observer(Truth *truth);
// A forked child: its own process, seen by this observer alone from now on.
void only_observer(Truth *truth);

// The process is ending: everything still allocated (and seen by an observer) is a leak.
void process_end();

} // namespace standin
