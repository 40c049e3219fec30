// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "truth.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <unistd.h>

namespace standin {

static const char *const type_names[MEM_TYPES] = { "DRAM",  "L1", "SYSTEM_MEMORY", "L1_SMALL",
						   "TRACE", "CB", "DFB" };
static const char *const kind_names[] = { "chip", "mesh" };

thread_local const char *current_site = nullptr;

static std::string site_now()
{
	return current_site ? current_site : "";
}

void Truth::allocated(DeviceKey device, int type, uint64_t address, uint64_t size)
{
	Key key{ device, type, address };
	Stats &s = stats(device, type);

	live_[key] = size;
	site_[key] = site_now();
	seen_[key] = true;
	released_.erase(key);
	s.allocs++;
	s.live_count++;
	s.live_bytes += size;
	s.peak_bytes = std::max(s.peak_bytes, s.live_bytes);
}

void Truth::freed(DeviceKey device, int type, uint64_t address)
{
	Key key{ device, type, address };
	auto it = live_.find(key);

	if (it == live_.end()) {
		// The allocator released it while the device was up (a bank cleared, a MeshBuffer
		// freed directly); the Buffer object reporting its free later frees nothing more.
		if (released_.erase(key))
			return;
		stats(device, type); // the device and type saw activity
		unmatched_.push_back({ device, type, address, 0,
				       seen_.count(key) ? "double_free" : "unknown_address", "" });
		return;
	}
	Stats &s = stats(device, type);
	s.frees++;
	s.live_count--;
	s.live_bytes -= it->second;
	live_.erase(it);
}

void Truth::released(DeviceKey device, int type, uint64_t address, const char *reason)
{
	Key key{ device, type, address };
	auto it = live_.find(key);

	if (it == live_.end())
		return; // allocated before this observer looked: it never saw it
	Stats &s = stats(device, type);
	s.untracked_frees++;
	s.untracked_bytes += it->second;
	s.live_count--;
	s.live_bytes -= it->second;
	untracked_.push_back({ device, type, address, it->second, reason, site_[key] });
	live_.erase(it);
	released_.insert(key);
}

// Every program lays its CBs (or DFBs) out from the same base: L1 in use is the union of the
// ranges of one type.
void Truth::update_program_l1_union(DeviceKey device, int type)
{
	std::vector<std::pair<uint64_t, uint64_t>> ranges;
	uint64_t total = 0, end = 0;

	for (const auto &[key, size] : live_program_l1_)
		if (std::get<0>(key) == device && std::get<1>(key) == type)
			ranges.emplace_back(std::get<3>(key), std::get<3>(key) + size);
	std::sort(ranges.begin(), ranges.end());
	for (const auto &[lo, hi] : ranges) {
		uint64_t start = std::max(lo, end);
		if (hi > start)
			total += hi - start;
		end = std::max(end, hi);
	}
	Stats &s = stats(device, type);
	s.live_bytes = total;
	s.peak_bytes = std::max(s.peak_bytes, total);
}

void Truth::program_l1_allocated(DeviceKey device, int type, const void *program,
				 uint64_t address, uint64_t size)
{
	if (!programs_seen_ && type == DFB)
		return;
	Stats &s = stats(device, type);

	live_program_l1_[ProgramL1Key{ device, type, program, address }] = size;
	program_l1_site_[ProgramL1Key{ device, type, program, address }] = site_now();
	s.allocs++;
	s.live_count++;
	update_program_l1_union(device, type);
}

void Truth::device_program_l1_released(DeviceKey device, const char *reason)
{
	std::vector<ProgramL1Key> keys;

	for (const auto &[key, size] : live_program_l1_)
		if (std::get<0>(key) == device)
			keys.push_back(key);
	for (const ProgramL1Key &key : keys)
		program_l1_released(device, std::get<1>(key), std::get<2>(key), std::get<3>(key),
				    reason);
}

void Truth::program_l1_released(DeviceKey device, int type, const void *program,
				uint64_t address, const char *reason)
{
	if (!programs_seen_ && !std::strcmp(reason, "program_destroyed"))
		return;
	auto it = live_program_l1_.find(ProgramL1Key{ device, type, program, address });

	if (it == live_program_l1_.end())
		return;
	Stats &s = stats(device, type);
	s.untracked_frees++;
	s.untracked_bytes += it->second;
	s.live_count--;
	untracked_.push_back({ device, type, address, it->second, reason,
			       program_l1_site_[ProgramL1Key{ device, type, program, address }] });
	live_program_l1_.erase(it);
	update_program_l1_union(device, type);
}

void Truth::leak_everything_live()
{
	for (const auto &[key, size] : live_) {
		Stats &s = stats(std::get<0>(key), std::get<1>(key));
		s.leaks++;
		s.leaked_bytes += size;
		s.live_count--;
		s.live_bytes -= size;
		leaks_.push_back(
			{ std::get<0>(key), std::get<1>(key), std::get<2>(key), size, "", site_[key] });
	}
	live_.clear();
	std::set<std::pair<DeviceKey, int>> unions;
	for (const auto &[key, size] : live_program_l1_) {
		const auto &[device, type, program, address] = key;
		Stats &s = stats(device, type);
		s.leaks++;
		s.leaked_bytes += size;
		s.live_count--;
		leaks_.push_back({ device, type, address, size, "", program_l1_site_[key] });
		unions.emplace(device, type);
	}
	live_program_l1_.clear();
	for (const auto &[device, type] : unions)
		update_program_l1_union(device, type);
}

void Truth::snapshot()
{
	std::vector<Entry> entries;

	for (const auto &[device, types] : devices_)
		for (const auto &[type, st] : types)
			entries.push_back({ device, type, st.live_count, st.live_bytes, "", "" });
	snapshots_.push_back(std::move(entries));
}

using Row = std::tuple<DeviceKey, int, uint64_t, uint64_t, std::string, std::string>;

static void write_entries(std::ostringstream &out, const char *name, const std::vector<Row> &rows,
			  bool with_size, bool with_reason)
{
	out << "  \"" << name << "\": [";
	for (size_t i = 0; i < rows.size(); i++) {
		const auto &[device, type, address, size, reason, site] = rows[i];
		out << (i ? ",\n    " : "\n    ") << "{ \"device_id\": " << device.second
		    << ", \"device_kind\": \"" << kind_names[device.first] << "\", \"type\": \""
		    << type_names[type] << "\", \"address\": " << address;
		if (with_size)
			out << ", \"size\": " << size;
		if (with_reason)
			out << ", \"reason\": \"" << reason << "\"";
		// Function names come from the driver's own code: no escaping needed.
		if (!site.empty())
			out << ", \"allocated_by\": \"" << site << "\"";
		out << " }";
	}
	out << (rows.empty() ? "]" : "\n  ]");
}

bool Truth::write(const std::string &path, const std::string &scenario, int exit_code) const
{
	auto rows = [](const std::vector<Entry> &entries) {
		std::vector<Row> out;
		for (const Entry &e : entries)
			out.emplace_back(e.device, e.type, e.address, e.size, e.reason, e.site);
		std::sort(out.begin(), out.end());
		return out;
	};
	std::ostringstream out;

	// The scenario name comes from the driver's own table: no escaping needed.
	out << "{\n  \"scenario\": \"" << scenario << "\",\n  \"pid\": " << getpid() << ",\n";
	if (exit_code >= 0)
		out << "  \"exit\": { \"code\": " << exit_code << " },\n";
	else
		out << "  \"exit\": { \"signal\": " << -exit_code << " },\n";
	out << "  \"hooked_allocations\": " << hooked_ << ",\n  \"devices\": [";
	bool first_device = true;
	for (const auto &[device, types] : devices_) {
		out << (first_device ? "\n    " : ",\n    ") << "{ \"device_id\": " << device.second
		    << ", \"kind\": \"" << kind_names[device.first] << "\", \"memory\": {";
		first_device = false;
		bool first_type = true;
		for (const auto &[type, s] : types) {
			out << (first_type ? "\n      " : ",\n      ") << "\"" << type_names[type]
			    << "\": { \"live_bytes\": " << s.live_bytes
			    << ", \"peak_bytes\": " << s.peak_bytes
			    << ", \"live_count\": " << s.live_count << ", \"allocs\": " << s.allocs
			    << ", \"frees\": " << s.frees
			    << ", \"untracked_frees\": " << s.untracked_frees
			    << ", \"untracked_bytes\": " << s.untracked_bytes
			    << ", \"leaks\": " << s.leaks << ", \"leaked_bytes\": " << s.leaked_bytes
			    << " }";
			first_type = false;
		}
		out << " } }";
	}
	out << (devices_.empty() ? "],\n" : "\n  ],\n");
	write_entries(out, "untracked_frees", rows(untracked_), true, true);
	out << ",\n";
	write_entries(out, "leaks", rows(leaks_), true, false);
	out << ",\n";
	write_entries(out, "unmatched_frees", rows(unmatched_), false, true);
	// Snapshots, in the order taken: each series as live_bytes (size) and live_count (address).
	out << ",\n  \"snapshots\": [";
	for (size_t i = 0; i < snapshots_.size(); i++) {
		out << (i ? ",\n    " : "\n    ") << "{ \"label\": \"mark " << i + 1
		    << "\", \"series\": [";
		for (size_t e = 0; e < snapshots_[i].size(); e++) {
			const Entry &en = snapshots_[i][e];
			out << (e ? ", " : "") << "{ \"device_id\": " << en.device.second
			    << ", \"device_kind\": \"" << kind_names[en.device.first]
			    << "\", \"type\": \"" << type_names[en.type]
			    << "\", \"live_bytes\": " << en.size << ", \"live_count\": " << en.address
			    << " }";
		}
		out << "] }";
	}
	out << (snapshots_.empty() ? "]" : "\n  ]");
	out << ",\n  \"per_iteration\": [";
	for (size_t i = 0; i < per_iteration_.size(); i++) {
		const Entry &en = per_iteration_[i];
		out << (i ? ", " : "") << "{ \"device_id\": " << en.device.second
		    << ", \"device_kind\": \"" << kind_names[en.device.first] << "\", \"type\": \""
		    << type_names[en.type] << "\", \"bytes\": " << en.size << " }";
	}
	out << "]\n}\n";

	// Whole or not at all: a temporary file beside it, then rename.
	std::string tmp = path + ".tmp";
	FILE *f = std::fopen(tmp.c_str(), "w");
	if (!f)
		return false;
	std::string text = out.str();
	bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
	ok = std::fclose(f) == 0 && ok;
	if (!ok || std::rename(tmp.c_str(), path.c_str())) {
		std::remove(tmp.c_str());
		return false;
	}
	return true;
}

} // namespace standin
