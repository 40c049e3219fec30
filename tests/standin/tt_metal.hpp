// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// A stand-in for tt-metal's libtt_metal.so: the classes, member layouts,
// mangled names and call flows devledger reads (era B), with no hardware
// behind them. Declared in tt-metal's own namespaces so that every symbol
// has tt-metal's mangled name.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

class CoreRangeSet {
public:
	uint32_t num_cores = 1;
};

namespace tt::tt_metal {

using DeviceAddr = uint64_t;

enum class BufferType : int { DRAM, L1, SYSTEM_MEMORY, L1_SMALL, TRACE };
enum class TensorMemoryLayout : int { INTERLEAVED, SINGLE_BANK };
enum class AllocationStatus : uint8_t { ALLOCATION_REQUESTED, ALLOCATED, DEALLOCATED };

class Buffer;
class Program;
class Allocator;

class IDevice {
public:
	virtual ~IDevice();
	virtual int id() const = 0;
	virtual bool is_initialized() const = 0;
};

// A physical chip. tt-metal's Device starts with `ChipId id_` right after the vptr.
class Device final : public IDevice {
public:
	explicit Device(int id);
	~Device() override;
	int id() const override;
	bool is_initialized() const override;
	// Clears the program cache (its binaries are freed with tracking), then drops
	// the allocator whole: nothing still allocated on it is reported.
	bool close();
	Allocator *allocator() const { return allocator_; }
	// Kernel binaries of cached programs, freed by close().
	void cache_program_binary(std::shared_ptr<Buffer> binary);

	int id_;
	bool initialized_;
	Allocator *allocator_;
	std::vector<std::shared_ptr<Buffer>> program_cache_;
};

// One bank range per buffer type; first fit upward or downward.
class Allocator {
public:
	Allocator();
	~Allocator();
	// 0 with *ok = false when the bank is full.
	DeviceAddr allocate_buffer(Buffer *buffer, bool *ok);
	void deallocate_buffer(Buffer *buffer);
	// address -> requested size of what is allocated in a bank, as the allocator sees it.
	const std::map<DeviceAddr, DeviceAddr> &allocated(BufferType type) const;

private:
	struct Bank {
		DeviceAddr base, top, align;
		unsigned int interleave; // DRAM spreads a buffer over 12 banks
		std::map<DeviceAddr, DeviceAddr> used; // address -> footprint per bank
		std::map<DeviceAddr, DeviceAddr> requested; // address -> requested size
	};
	Bank banks_[5];
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
	static std::shared_ptr<Buffer> create(IDevice *device, DeviceAddr size, DeviceAddr page_size,
					      BufferType type, bool bottom_up);
	// A Buffer object that was never allocated (for modelling a runtime bug).
	static std::shared_ptr<Buffer> forged(IDevice *device, DeviceAddr size, BufferType type,
					      DeviceAddr address);
	Buffer(IDevice *device, DeviceAddr size, DeviceAddr page_size, BufferType type, bool bottom_up);
	~Buffer();
	void deallocate();
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

#ifdef STANDIN_ERA_C
// Era C's allocator class; its presence is how a library shows its era.
class AllocatorImpl {
public:
	void deallocate_buffers();
};
#endif

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

	std::vector<std::shared_ptr<IGraphProcessor>> processors;
};

namespace detail {
class ProgramImpl {
public:
	explicit ProgramImpl(std::vector<uint64_t> cb_sizes);
	~ProgramImpl();
	// Lays the program's CBs out upward from the L1 CB base, once per program.
	void allocate_circular_buffers(const IDevice *device);

	struct CircularBuffer {
		uint64_t address, size;
	};
	std::vector<uint64_t> cb_sizes_;
	std::vector<CircularBuffer> allocated_;
	const IDevice *device_ = nullptr;
};
} // namespace detail

class Program {
public:
	explicit Program(std::vector<uint64_t> cb_sizes);
	~Program();
	detail::ProgramImpl &impl() { return *pimpl_; }
	// What the runtime calls when the program is enqueued: lays out its CBs.
	void allocate_circular_buffers(const IDevice *device);

	std::shared_ptr<detail::ProgramImpl> pimpl_;
};

} // namespace tt::tt_metal

namespace standin {

// Where every program's CBs start, as tt-metal's L1 allocator base.
constexpr uint64_t CB_BASE = 101152;

// While on, allocations are hooked (ttnn graph capture): address 0, never allocated.
void set_graph_capture_hook(bool on);

// Serialises each runtime action with its report, so reports and ground truth share one order.
std::recursive_mutex &runtime_mutex();

class Truth;
// Observers that record the ground truth; the runtime tells each what really happened.
void add_observer(Truth *truth);

// The process is ending: everything still allocated (and seen by an observer) is a leak.
void process_end();

} // namespace standin
