// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// Ground truth: what the stand-in runtime really did with memory, as an
// observer that saw it from some moment on would have to report it. The
// runtime calls it at the points where things really happen (an allocation
// reported, an allocator releasing what a bank holds, a program destroyed).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace standin {

// CB and DFB are program-scope L1 (circular buffers, Metal 2.0 dataflow buffers): every program
// lays its own out from one base, so each type's live bytes are the union of its live ranges.
enum MemType { DRAM, L1, SYSTEM_MEMORY, L1_SMALL, TRACE, CB, DFB, MEM_TYPES };

// A chip (tt-metal's Device) or a mesh (distributed::MeshDevice): each kind numbers its own from 0.
enum DeviceKind { CHIP, MESH };
using DeviceKey = std::pair<DeviceKind, int>; // chips sort before meshes

// The driver function allocating on this thread (a named SiteScope), for the ground truth: a
// leak's or an untracked free's "allocated_by".
extern thread_local const char *current_site;

struct SiteScope {
	const char *saved;
	explicit SiteScope(const char *name) : saved(current_site) { current_site = name; }
	~SiteScope() { current_site = saved; }
};

class Truth {
public:
	void allocated(DeviceKey device, int type, uint64_t address, uint64_t size);
	// A track_deallocate report. One of a buffer the allocator already released counts for
	// nothing: the memory went once.
	void freed(DeviceKey device, int type, uint64_t address);
	// Released with no per-buffer report (reason as devledger names it).
	void released(DeviceKey device, int type, uint64_t address, const char *reason);
	// A program laid a CB or DFB (type) out at address on device.
	void program_l1_allocated(DeviceKey device, int type, const void *program,
				  uint64_t address, uint64_t size);
	void program_l1_released(DeviceKey device, int type, const void *program,
				 uint64_t address, const char *reason);
	// A device close: every CB and DFB this observer still sees live on the device goes too.
	void device_program_l1_released(DeviceKey device, const char *reason);
	// An observer that cannot see ProgramImpl's functions (the library hides them) keeps CBs
	// live until their device closes, and never sees a DFB: only allocate_dataflow_buffers
	// shows one.
	void programs_unseen() { programs_seen_ = false; }
	void hooked() { hooked_++; }
	// The process ends now: what this observer still sees live is leaked.
	void leak_everything_live();

	// A snapshot devledger was asked to take now: every device and type's live bytes and
	// buffers, as the summary's "snapshots" must show them.
	void snapshot();
	// What each iteration of a repeated workload left behind on one device and type, and
	// whether it keeps adding up (the growth verdict devledger must reach).
	void iteration_leaves(DeviceKey device, int type, uint64_t bytes)
	{
		per_iteration_.push_back({ device, type, 0, bytes, "", "" });
	}

	// exit_code >= 0: {"code": N}; otherwise {"signal": -exit_code}.
	bool write(const std::string &path, const std::string &scenario, int exit_code) const;

private:
	struct Stats {
		uint64_t live_bytes = 0, peak_bytes = 0, live_count = 0, allocs = 0, frees = 0;
		uint64_t untracked_frees = 0, untracked_bytes = 0, leaks = 0, leaked_bytes = 0;
	};
	struct Entry {
		DeviceKey device;
		int type;
		uint64_t address, size;
		std::string reason;
		std::string site; // the allocating function, "" when not in a SiteScope
	};
	Stats &stats(DeviceKey device, int type) { return devices_[device][type]; }
	void update_program_l1_union(DeviceKey device, int type);

	using Key = std::tuple<DeviceKey, int, uint64_t>; // device, type, address
	// device, type (CB or DFB), program, address
	using ProgramL1Key = std::tuple<DeviceKey, int, const void *, uint64_t>;
	std::map<Key, uint64_t> live_; // -> size
	std::map<Key, bool> seen_; // every key ever allocated
	// Released without a report and not allocated since: the Buffer object may still report it.
	std::set<Key> released_;
	std::map<ProgramL1Key, uint64_t> live_program_l1_;
	// Where each live allocation was made (current_site when it was).
	std::map<Key, std::string> site_;
	std::map<ProgramL1Key, std::string> program_l1_site_;
	std::map<DeviceKey, std::map<int, Stats>> devices_;
	std::vector<Entry> untracked_, leaks_, unmatched_;
	std::vector<std::vector<Entry>> snapshots_; // size: live_bytes, address: live_count
	std::vector<Entry> per_iteration_;	    // size: bytes left per iteration
	uint64_t hooked_ = 0;
	bool programs_seen_ = true;
};

} // namespace standin
