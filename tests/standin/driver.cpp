// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
//
// standin SCENARIO [ARGS] [--truth FILE] [--attach-truth FILE]
// Runs a workload on the stand-in runtime and writes the ground truth of
// what it really allocated and released.
#include "truth.hpp"
#include "tt_metal.hpp"

#include <csignal>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <utility>
#include <sys/wait.h>
#include <unistd.h>

using namespace tt::tt_metal;
using tt::tt_metal::distributed::MeshBuffer;
using tt::tt_metal::distributed::MeshDevice;

namespace {

const char usage[] =
	"usage: standin SCENARIO [ARGS] [--truth FILE] [--attach-truth FILE]\n"
	"  remaining            8 devices; DRAM binaries freed after close, CBs of two programs\n"
	"                       (one CB globally allocated, one program laid out twice)\n"
	"  mesh [--skip-meshes N]  remaining on a mesh of 8 chips, with mesh buffers and banks;\n"
	"                       N meshes opened and closed first, so this one has id N\n"
	"  subdevice            a sub-device manager removed: only its allocator's buffers go\n"
	"                       emptied by the allocator\n"
	"  dataflow             programs with dataflow buffers (Metal 2.0) on 2 devices: some\n"
	"                       destroyed, one alive at close, one laid out twice\n"
	"  leak                 buffers never freed\n"
	"  churn N [--seed S]   N random allocations and frees on 4 devices\n"
	"  threads T [--ops N] [--seed S]  churn from T threads at once\n"
	"  wait                 print \"ready\", wait for SIGUSR1, free and allocate more\n"
	"  fork-wait --child-truth FILE  print \"ready\", wait for SIGUSR1, fork a child that runs\n"
	"                       leak (its truth in FILE), wait for it\n"
	"  double-free          a buffer reported freed twice, and a free of an unknown address\n"
	"  crash                allocate, then die by SIGKILL\n"
	"  hammer T SECONDS     T threads (one device each) calling the probed functions flat\n"
	"                       out; prints \"rounds N\"\n"
	"  flood N              N allocations reported, never freed; no ground truth\n"
	"  accumulate N [--mark]  N iterations, each leaving 36 KiB of DRAM on chip 0 (never\n"
	"                       freed: leaked at exit); chip 1 comes back to the same level\n"
	"  steady N [--mark]    N iterations that each come back to the same level, then close\n"
	"                       --mark: SIGUSR2 to the parent (devledger) after each iteration\n"
	"  stacks               allocations from named functions through the library's tensor\n"
	"                       layer, on the main thread and 3 workers: leaks, buffers left at\n"
	"                       a device close, CBs of a destroyed program\n"
	"  loop N [--time]      N track_allocate/track_deallocate pairs of one buffer;\n"
	"                       --time prints \"ns_per_call X\"\n"
	"  buffers N [--time] [--processor]  N rounds of a DRAM and an L1 Buffer created and\n"
	"                       destroyed through the allocator; --time prints \"ns_per_buffer X\";\n"
	"                       --processor registers a processor in GraphTracker first\n"
	"--linger MS: stay MS milliseconds after the scenario (long enough to be looked at in /proc)\n"
	"--truth FILE writes the ground truth; --attach-truth FILE (wait) the truth as seen by\n"
	"an observer that attached at the ready line.\n";

[[noreturn]] void bad_usage(const std::string &what)
{
	std::fprintf(stderr, "standin: %s (see 'standin --help')\n", what.c_str());
	std::exit(2);
}

uint64_t parse_number(const char *text, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long value = std::strtoull(text, &end, 10);
	if (!*text || *end || errno || text[0] == '-')
		bad_usage(std::string("bad ") + what + ": " + text);
	return value;
}

// splitmix64: a small deterministic generator, the same on every machine.
struct Random {
	uint64_t state;
	uint64_t next()
	{
		uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		return z ^ (z >> 31);
	}
	uint64_t below(uint64_t n) { return next() % n; }
};

constexpr DeviceAddr KIB = 1024;

std::vector<Device *> open_devices(int count)
{
	std::vector<Device *> devices;
	for (int i = 0; i < count; i++)
		devices.push_back(new Device(i));
	return devices;
}

void close_devices(const std::vector<Device *> &devices)
{
	for (Device *d : devices)
		d->close();
}

// One CB per size, as a kernel's CreateCircularBuffer calls add them.
void add_circular_buffers(Program &program, std::initializer_list<uint32_t> sizes)
{
	for (uint32_t size : sizes)
		CreateCircularBuffer(program, CoreRangeSet{},
				     CircularBufferConfig(size).set_page_size(0, 1024));
}

// One DFB per {entry size, entries}.
void add_dataflow_buffers(Program &program,
			  std::initializer_list<std::pair<uint32_t, uint32_t>> shapes)
{
	for (const auto &[entry_size, entries] : shapes)
		CreateDataflowBuffer(program, CoreRangeSet{},
				     DataflowBufferConfig{ entry_size, entries, 0x1, 0x2 });
}

// The original report: 36 KiB DRAM per chip and 22 KiB of CBs on chip 0, none of it leaked.
void scenario_remaining()
{
	auto devices = open_devices(8);
	std::vector<std::shared_ptr<Buffer>> held;

	for (Device *d : devices) {
		// Kernel binaries: top-down, 2 KiB pages, outliving the device's close.
		held.push_back(Buffer::create(d, 12 * KIB, 2048, BufferType::DRAM, false));
		held.push_back(Buffer::create(d, 24 * KIB, 2048, BufferType::DRAM, false));
		// A cached program's binary, freed (tracked) inside Device::close.
		d->cache_program_binary(Buffer::create(d, 8 * KIB, 2048, BufferType::DRAM, false));
		// Ordinary buffers, allocated and freed with tracking.
		auto a = Buffer::create(d, 64 * KIB, 2048, BufferType::DRAM, true);
		auto b = Buffer::create(d, 4 * KIB, 1024, BufferType::L1, false);
		auto c = Buffer::create(d, 2 * KIB, 1024, BufferType::L1, false);
		a->deallocate();
		b.reset();
		c.reset();
	}

	Device *d0 = devices[0];
	// A sharded L1 tensor that program a's second CB lives in: that CB is globally allocated,
	// takes no program L1 and is never reported as a CB.
	auto sharded = Buffer::create(d0, 16 * KIB, 1024, BufferType::L1, false);
	{
		Program a, b;
		CreateCircularBuffer(a, CoreRangeSet{}, CircularBufferConfig(4 * KIB));
		CreateCircularBuffer(
			a, CoreRangeSet{},
			CircularBufferConfig(16 * KIB).set_globally_allocated_address(*sharded));
		add_circular_buffers(a, { 4 * KIB, 2 * KIB });
		add_circular_buffers(b, { 8 * KIB, 4 * KIB });
		a.allocate_circular_buffers(d0);
		b.allocate_circular_buffers(d0);
		// Enqueued again: its layout stands, nothing is laid out or reported.
		a.allocate_circular_buffers(d0);

		// A ttnn graph capture in between: hooked, never really allocated.
		standin::set_graph_capture_hook(true);
		auto hooked = Buffer::create(d0, 16 * KIB, 2048, BufferType::DRAM, true);
		standin::set_graph_capture_hook(false);
		hooked.reset();
	}
	sharded.reset();
	close_devices(devices);
	held.clear(); // freed silently: their devices are closed
}

// The original report again, on a mesh: every release the allocator makes by itself, each reason.
// Meshes opened and closed before it (allocating nothing) give it id skip_meshes: mesh ids are
// tt-metal's process-wide counter, not the order a tracer first sees meshes in.
void scenario_mesh(uint64_t skip_meshes)
{
	for (uint64_t i = 0; i < skip_meshes; i++)
		MeshDevice::create({ 0, 1, 2, 3, 4, 5, 6, 7 })->close();
	auto mesh = MeshDevice::create({ 0, 1, 2, 3, 4, 5, 6, 7 });
	const std::vector<Device *> &chips = mesh->get_devices();
	std::vector<std::shared_ptr<Buffer>> held;

	{
		// A sub-device manager removed on chip 7 (its allocator's deallocate_buffers), an
		// allocator cleared on chip 6. The Buffer objects outlive the release and then
		// report their frees: the memory went once. Done first, while the chips' DRAM banks
		// hold nothing: these calls empty every bank of the chip's one allocator.
		std::vector<std::shared_ptr<Buffer>> on_chip7, on_chip6;
		on_chip7.push_back(Buffer::create(chips[7], 4 * KIB, 1024, BufferType::L1, false));
		on_chip7.push_back(Buffer::create(chips[7], 2 * KIB, 1024, BufferType::L1, false));
		chips[7]->allocator()->deallocate_buffers();
		on_chip7.clear();
		on_chip6.push_back(Buffer::create(chips[6], 512, 512, BufferType::L1_SMALL, false));
		chips[6]->allocator()->clear();
		on_chip6.clear();
	}
	for (Device *d : chips) {
		// Kernel binaries: top-down, 2 KiB pages, outliving the mesh's close.
		held.push_back(Buffer::create(d, 12 * KIB, 2048, BufferType::DRAM, false));
		held.push_back(Buffer::create(d, 24 * KIB, 2048, BufferType::DRAM, false));
	}

	auto a = MeshBuffer::create(mesh.get(), 64 * KIB, 2048, BufferType::DRAM, true);
	auto a2 = MeshBuffer::create(mesh.get(), 4 * KIB, 1024, BufferType::L1, true);
	auto b = MeshBuffer::create(mesh.get(), 8 * KIB, 1024, BufferType::L1, true);
	auto c = MeshBuffer::create(mesh.get(), 32 * KIB, 2048, BufferType::DRAM, true);
	a->backing()->deallocate(); // tracked
	a2->backing()->deallocate(); // tracked
	b->deallocate(); // by the mesh allocator, unreported

	{
		Program p, q;
		add_circular_buffers(p, { 4 * KIB, 4 * KIB, 2 * KIB });
		add_circular_buffers(q, { 8 * KIB, 4 * KIB });
		p.allocate_circular_buffers(chips[0]);
		q.allocate_circular_buffers(chips[0]);
	}
	mesh->close(); // c, and every chip's binaries
	held.clear(); // freed silently: the chips are closed
}

// A device with two allocators: removing the sub-device manager releases its allocator's buffers
// (allocator_clear) and none of the device's own.
void scenario_subdevice()
{
	auto devices = open_devices(1);
	Device *d = devices[0];

	auto kept = Buffer::create(d, 4 * KIB, 1024, BufferType::L1, false);
	auto binary = Buffer::create(d, 8 * KIB, 2048, BufferType::DRAM, false);
	Allocator *local = d->create_sub_device_manager();
	auto local_a = Buffer::create(d, 2 * KIB, 1024, BufferType::L1, false, local);
	auto local_b = Buffer::create(d, 1 * KIB, 1024, BufferType::L1, true, local);
	d->remove_sub_device_manager();
	// Their Buffers report the free afterwards: the same release, counted once.
	local_a.reset();
	local_b.reset();
	kept->deallocate();
	close_devices(devices);
	binary.reset(); // released at close (device_closed), freed silently now
}

// Metal 2.0 programs with dataflow buffers: laid out like CBs from one L1 base, told to no tracker
// hook, released at ~ProgramImpl or at their device's close, and never reported either way.
void scenario_dataflow()
{
	auto devices = open_devices(2);
	Device *d0 = devices[0], *d1 = devices[1];
	auto input = Buffer::create(d0, 8 * KIB, 2048, BufferType::DRAM, true);

	{
		Program a, b;
		add_dataflow_buffers(a, { { 1 * KIB, 4 }, { 2 * KIB, 2 } }); // 4 KiB + 4 KiB
		add_dataflow_buffers(b, { { 2 * KIB, 4 }, { 512, 4 } }); // 8 KiB + 2 KiB
		a.allocate_dataflow_buffers(d0);
		// Enqueued again: its layout stands.
		a.allocate_dataflow_buffers(d0);
		b.allocate_dataflow_buffers(d0);
	} // both destroyed before the close: program_destroyed

	// On device 1 a CB program beside a DFB program: each type is its own union.
	auto alive = new Program;
	add_dataflow_buffers(*alive, { { 1 * KIB, 6 } }); // 6 KiB
	alive->allocate_dataflow_buffers(d1);
	{
		Program cbs;
		add_circular_buffers(cbs, { 2 * KIB });
		cbs.allocate_circular_buffers(d1);
	}
	{
		Program gone;
		add_dataflow_buffers(gone, { { 2 * KIB, 1 } }); // 2 KiB
		gone.allocate_dataflow_buffers(d1);
	}
	input->deallocate();
	close_devices(devices); // alive's DFB goes with device 1: device_closed
	delete alive; // nothing left to release
}

void scenario_leak()
{
	auto devices = open_devices(2);
	// Never freed and never closed: leaked at exit.
	new auto(Buffer::create(devices[0], 8 * KIB, 2048, BufferType::DRAM, true));
	new auto(Buffer::create(devices[0], 3 * KIB, 1024, BufferType::L1, false));
	new auto(Buffer::create(devices[1], 512, 512, BufferType::L1_SMALL, false));
	new auto(Buffer::create(devices[1], 32 * KIB, 2048, BufferType::TRACE, true));
	auto program = new Program;
	add_circular_buffers(*program, { 2 * KIB });
	program->allocate_circular_buffers(devices[1]);
	// Some freed properly.
	Buffer::create(devices[0], 1 * KIB, 1024, BufferType::L1, false).reset();
}

void churn(const std::vector<Device *> &devices, uint64_t ops, uint64_t seed)
{
	static const BufferType types[] = { BufferType::DRAM, BufferType::L1, BufferType::L1_SMALL,
					    BufferType::TRACE };
	Random rng{ seed };
	std::vector<std::shared_ptr<Buffer>> live;

	for (uint64_t i = 0; i < ops; i++) {
		// Biased toward allocation while few are live, toward frees past 64.
		bool allocate = live.empty() || rng.below(100) < (live.size() < 64 ? 60 : 35);
		if (allocate) {
			Device *d = devices[rng.below(devices.size())];
			BufferType type = types[rng.below(4)];
			DeviceAddr size = (1 + rng.below(type == BufferType::L1_SMALL ? 16 : 2048)) * 32;
			auto buffer = Buffer::create(d, size, 32, type, rng.below(2));
			if (buffer)
				live.push_back(std::move(buffer));
		} else {
			size_t victim = rng.below(live.size());
			live[victim]->deallocate();
			live[victim] = live.back();
			live.pop_back();
		}
	}
	live.clear();
}

void scenario_churn(uint64_t ops, uint64_t seed)
{
	auto devices = open_devices(4);
	churn(devices, ops, seed);
	close_devices(devices);
}

void scenario_threads(uint64_t threads, uint64_t ops, uint64_t seed)
{
	auto devices = open_devices(4);
	std::vector<std::thread> workers;
	for (uint64_t t = 0; t < threads; t++)
		workers.emplace_back(churn, devices, ops, seed + t);
	for (auto &w : workers)
		w.join();
	close_devices(devices);
}

void scenario_wait(standin::Truth *attached)
{
	auto devices = open_devices(1);
	Device *d = devices[0];
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);

	auto early_a = Buffer::create(d, 4 * KIB, 1024, BufferType::DRAM, true);
	auto early_b = Buffer::create(d, 2 * KIB, 1024, BufferType::L1, false);
	auto early_kept = Buffer::create(d, 1 * KIB, 1024, BufferType::L1, false);
	std::fputs("ready\n", stdout);
	std::fflush(stdout);

	int signal;
	sigwait(&set, &signal);
	if (attached)
		standin::add_observer(attached);
	early_a->deallocate(); // allocated before an attach: unknown to the attached observer
	early_b->deallocate();
	auto late = Buffer::create(d, 8 * KIB, 2048, BufferType::DRAM, true);
	new auto(Buffer::create(d, 16 * KIB, 2048, BufferType::DRAM, true)); // leaked
	new auto(Buffer::create(d, 512, 512, BufferType::L1, false)); // leaked
	new auto(early_kept); // leaked, but never seen by the attached observer
	late->deallocate();
}

// The parent does nothing once released; its child, forked then, leaks as `leak` does.
void scenario_fork_wait(const std::string &child_truth_path)
{
	sigset_t set;
	int signal, status;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, nullptr);
	std::fputs("ready\n", stdout);
	std::fflush(stdout);
	sigwait(&set, &signal);
	pid_t child = fork();
	if (child == 0) {
		standin::Truth child_truth;

		standin::only_observer(&child_truth);
		scenario_leak();
		standin::process_end();
		std::fflush(nullptr);
		_exit(child_truth.write(child_truth_path, "leak", 0) ? 0 : 1);
	}
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		std::fprintf(stderr, "standin: the forked child failed\n");
		std::exit(1);
	}
}

// The parent (devledger trace) takes a snapshot on SIGUSR2. The next iteration starts only once
// the signal was delivered (no longer pending at the parent), so the snapshot holds this one.
void mark_parent(standin::Truth &truth)
{
	pid_t parent = getppid();
	char path[64];

	truth.snapshot();
	kill(parent, SIGUSR2);
	std::snprintf(path, sizeof(path), "/proc/%d/status", (int)parent);
	for (int tries = 0; tries < 2000; tries++) {
		char line[256];
		bool pending = false;
		FILE *f = std::fopen(path, "r");

		if (!f)
			break;
		while (std::fgets(line, sizeof(line), f))
			if (!std::strncmp(line, "ShdPnd:", 7) || !std::strncmp(line, "SigPnd:", 7))
				pending |= (std::strtoull(line + 7, nullptr, 16) >> (SIGUSR2 - 1)) & 1;
		std::fclose(f);
		if (!pending)
			break;
		usleep(1000);
	}
	usleep(2000);
}

// One iteration of a repeated workload: a working set allocated and freed.
void work(Device *d)
{
	auto a = Buffer::create(d, 64 * KIB, 2048, BufferType::DRAM, true);
	auto b = Buffer::create(d, 4 * KIB, 1024, BufferType::L1, false);
	usleep(1000);
	a->deallocate();
	b.reset();
}

// An inference server that grows by 36 KiB of DRAM per request on chip 0; chip 1 does not.
void scenario_accumulate(uint64_t iterations, bool mark, standin::Truth &truth)
{
	auto devices = open_devices(2);
	auto held = Buffer::create(devices[1], 8 * KIB, 2048, BufferType::DRAM, true);

	truth.iteration_leaves({ standin::CHIP, 0 }, standin::DRAM, 36 * KIB);
	truth.iteration_leaves({ standin::CHIP, 1 }, standin::DRAM, 0);
	for (uint64_t i = 0; i < iterations; i++) {
		work(devices[0]);
		work(devices[1]);
		new auto(Buffer::create(devices[0], 36 * KIB, 2048, BufferType::DRAM, true));
		usleep(2000);
		if (mark)
			mark_parent(truth);
	}
	new auto(held); // never freed: its process exits with it
}

// The same workload, every iteration back to where it began; the devices closed at the end.
void scenario_steady(uint64_t iterations, bool mark, standin::Truth &truth)
{
	auto devices = open_devices(2);
	auto held = Buffer::create(devices[0], 8 * KIB, 2048, BufferType::DRAM, true);

	truth.iteration_leaves({ standin::CHIP, 0 }, standin::DRAM, 0);
	truth.iteration_leaves({ standin::CHIP, 1 }, standin::DRAM, 0);
	for (uint64_t i = 0; i < iterations; i++) {
		work(devices[0]);
		work(devices[1]);
		usleep(2000);
		if (mark)
			mark_parent(truth);
	}
	held->deallocate();
	close_devices(devices);
}

void scenario_double_free(standin::Truth &truth)
{
	auto devices = open_devices(1);
	Device *d = devices[0];

	auto buffer = Buffer::create(d, 4 * KIB, 1024, BufferType::DRAM, true);
	buffer->deallocate();
	// A runtime bug: the same buffer reported freed again.
	GraphTracker::instance().track_deallocate(buffer.get());
	truth.freed(standin::device_key(d), standin::DRAM, buffer->state()->address_);
	// A free of an address nothing was allocated at.
	auto forged = Buffer::forged(d, 2 * KIB, BufferType::L1, 777 * KIB);
	GraphTracker::instance().track_deallocate(forged.get());
	truth.freed(standin::device_key(d), standin::L1, forged->state()->address_);
	close_devices(devices);
}

// The probed calls alone, as fast as they go; with `timed`, prints "ns_per_call N" on stdout.
void scenario_loop(uint64_t count, bool timed, standin::Truth &truth)
{
	auto devices = open_devices(1);
	auto buffer = Buffer::create(devices[0], 4 * KIB, 1024, BufferType::DRAM, true);
	auto &tracker = GraphTracker::instance();
	timespec start, end;

	// Freed first: each round then reports an allocation of it and its free, as a real pair would.
	buffer->deallocate();
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (uint64_t i = 0; i < count; i++) {
		tracker.track_allocate(buffer.get());
		tracker.track_deallocate(buffer.get());
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (timed) {
		double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
		std::printf("ns_per_call %.1f\n", count ? ns / (2.0 * count) : 0.0);
	}
	// Each round reported one allocation and its free: the truth hears them after the clock.
	standin::DeviceKey device = standin::device_key(devices[0]);
	for (uint64_t i = 0; i < count; i++) {
		truth.allocated(device, standin::DRAM, buffer->state()->address_,
				buffer->state()->size_);
		truth.freed(device, standin::DRAM, buffer->state()->address_);
	}
	close_devices(devices);
}

// What tt-metal's shared-memory tracker does on every track_*: bytes in use per type, under a lock.
class CountingProcessor final : public IGraphProcessor {
public:
	void track_allocate(const Buffer *buffer) override { add(buffer, 1); }
	void track_deallocate(Buffer *buffer) override { add(buffer, -1); }
	void track_allocate_cb(const CoreRangeSet &, uint64_t, uint64_t, bool,
			       const IDevice *) override
	{
	}
	void track_deallocate_cb(const IDevice *) override {}
	void track_program(Program *, const IDevice *) override {}

private:
	void add(const Buffer *buffer, int64_t sign)
	{
		std::lock_guard<std::mutex> lock(mutex_);
		bytes_[(int)buffer->state()->buffer_type_ % 5] += sign * (int64_t)buffer->state()->size_;
	}

	std::mutex mutex_;
	int64_t bytes_[5] = {};
};

// The whole path of real Buffers, as fast as it goes: each round creates and destroys a DRAM and
// an L1 buffer (Buffer::create -> allocate_impl -> track_allocate; ~Buffer -> deallocate_impl ->
// track_deallocate -> the allocator -> BankManager::deallocate_buffer). With `timed`, prints
// "ns_per_buffer N" for a buffer created and destroyed; with `processor`, a processor is
// registered in GraphTracker, so every track_* does real work, as in newest tt-metal.
void scenario_buffers(uint64_t rounds, bool timed, bool processor)
{
	auto devices = open_devices(1);
	auto counting = std::make_shared<CountingProcessor>();
	timespec start, end;

	if (processor)
		GraphTracker::instance().processors.push_back(counting);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (uint64_t i = 0; i < rounds; i++) {
		auto dram = Buffer::create(devices[0], 4 * KIB, 1024, BufferType::DRAM, true);
		auto l1 = Buffer::create(devices[0], 2 * KIB, 1024, BufferType::L1, false);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (processor)
		GraphTracker::instance().processors.clear();
	if (timed) {
		double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
		std::printf("ns_per_buffer %.1f\n", rounds ? ns / (2.0 * rounds) : 0.0);
	}
	close_devices(devices);
}

// N allocations reported and never freed, at N addresses: a process that floods the tracer. No
// ground truth: the tracer is expected to keep only some of them, and say so.
void scenario_flood(uint64_t count)
{
	auto devices = open_devices(1);
	auto buffer = Buffer::create(devices[0], 64, 64, BufferType::L1, true);
	auto &tracker = GraphTracker::instance();
	DeviceAddr first = buffer->state()->address_;

	for (uint64_t i = 0; i < count; i++) {
		buffer->state()->address_ = first + (i + 1) * 64;
		tracker.track_allocate(buffer.get());
	}
	buffer->state()->address_ = first;
	std::_Exit(0); // no close, no free: everything reported is still live
}

// ---- stacks: each allocation from its own named driver function, through tensor_ops ----

using Buffers = std::vector<std::shared_ptr<Buffer>>;

// Kept and freed before the end: no leak, no stack to report.
__attribute__((noinline)) void load_weights(Device *device, Buffers &kept)
{
	standin::SiteScope site("load_weights");
	kept.push_back(tensor_ops::create_device_tensor(device, 16 * KIB, BufferType::DRAM));
	__asm__ volatile("" ::: "memory");
}

// Never freed: leaked at exit.
__attribute__((noinline)) void allocate_activations(Device *device)
{
	standin::SiteScope site("allocate_activations");
	new auto(tensor_ops::create_device_tensor(device, 6 * KIB, BufferType::L1));
	__asm__ volatile("" ::: "memory");
}

// Left allocated when its device closes: an untracked free (device_closed).
__attribute__((noinline)) void allocate_kv_cache(Device *device, Buffers &kept)
{
	standin::SiteScope site("allocate_kv_cache");
	kept.push_back(tensor_ops::create_device_tensor(device, 24 * KIB, BufferType::DRAM));
	__asm__ volatile("" ::: "memory");
}

// A program's CBs, released by its destructor (program_destroyed).
__attribute__((noinline)) Program *build_program(Device *device)
{
	standin::SiteScope site("build_program");
	auto program = new Program;
	add_circular_buffers(*program, { 4 * KIB, 2 * KIB });
	program->allocate_circular_buffers(device);
	__asm__ volatile("" ::: "memory");
	return program;
}

__attribute__((noinline)) void finish_program(Program *program)
{
	delete program;
	__asm__ volatile("" ::: "memory");
}

// From a worker thread, on its own stack, on a device never closed: leaked.
__attribute__((noinline)) void worker_allocate(Device *device, uint64_t n)
{
	standin::SiteScope site("worker_allocate");
	new auto(tensor_ops::create_device_tensor(device, (n + 1) * KIB, BufferType::L1_SMALL));
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void shutdown_devices(const std::vector<Device *> &devices)
{
	close_devices(devices);
	__asm__ volatile("" ::: "memory");
}

void scenario_stacks()
{
	auto devices = open_devices(2);
	Buffers weights, cache;
	std::vector<std::thread> workers;

	load_weights(devices[0], weights);
	allocate_activations(devices[0]);
	allocate_kv_cache(devices[1], cache);
	finish_program(build_program(devices[0]));
	for (uint64_t t = 0; t < 3; t++)
		workers.emplace_back([&, t] { worker_allocate(devices[0], t); });
	for (auto &w : workers)
		w.join();
	weights.clear();
	// The cache's buffers stay referenced: the close releases them, then their free frees
	// nothing more.
	shutdown_devices({ devices[1] });
	cache.clear();
}

// T threads calling the probed functions as fast as they can for `seconds`, each on its own device.
void scenario_hammer(uint64_t threads, double seconds, standin::Truth &truth)
{
	auto devices = open_devices((int)threads);
	std::vector<std::shared_ptr<Buffer>> buffers;
	std::vector<uint64_t> rounds(threads, 0);
	std::vector<std::thread> workers;
	timespec start;

	for (uint64_t t = 0; t < threads; t++) {
		buffers.push_back(Buffer::create(devices[t], (t + 1) * KIB, 1024, BufferType::L1, false));
		// Freed first: each round then reports an allocation of it and its free.
		buffers.back()->deallocate();
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (uint64_t t = 0; t < threads; t++) {
		workers.emplace_back([&, t] {
			auto &tracker = GraphTracker::instance();
			timespec now;
			do {
				for (int i = 0; i < 1000; i++) {
					tracker.track_allocate(buffers[t].get());
					tracker.track_deallocate(buffers[t].get());
				}
				rounds[t] += 1000;
				clock_gettime(CLOCK_MONOTONIC, &now);
			} while ((now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 < seconds);
		});
	}
	for (auto &w : workers)
		w.join();
	// Each round reported one allocation and its free: the truth hears them after the clock.
	for (uint64_t t = 0; t < threads; t++) {
		standin::DeviceKey device = standin::device_key(devices[t]);
		for (uint64_t i = 0; i < rounds[t]; i++) {
			truth.allocated(device, standin::L1, buffers[t]->state()->address_,
					buffers[t]->state()->size_);
			truth.freed(device, standin::L1, buffers[t]->state()->address_);
		}
	}
	std::printf("rounds %llu\n", (unsigned long long)std::accumulate(rounds.begin(), rounds.end(), 0ULL));
	close_devices(devices);
}

} // namespace

#ifdef STANDIN_MODULE
// Built as a module that standin-dlopen loads, as Python loads ttnn's extension module.
extern "C" __attribute__((visibility("default"))) int standin_main(int argc, char **argv)
#else
int main(int argc, char **argv)
#endif
{
	std::string scenario, truth_path, attach_truth_path, child_truth_path;
	std::vector<uint64_t> numbers;
	uint64_t seed = 1, ops = 10000, skip_meshes = 0, linger_ms = 0;
	bool timed = false, skip_meshes_given = false, mark = false, processor = false;

	for (int i = 1; i < argc; i++) {
		std::string arg = argv[i];
		auto value = [&](const char *name) -> const char * {
			if (i + 1 >= argc)
				bad_usage(std::string(name) + " needs a value");
			return argv[++i];
		};
		if (arg == "--help" || arg == "-h") {
			std::fputs(usage, stdout);
			return 0;
		} else if (arg == "--truth") {
			truth_path = value("--truth");
		} else if (arg == "--attach-truth") {
			attach_truth_path = value("--attach-truth");
		} else if (arg == "--child-truth") {
			child_truth_path = value("--child-truth");
		} else if (arg == "--time") {
			timed = true;
		} else if (arg == "--linger") {
			linger_ms = parse_number(value("--linger"), "--linger");
		} else if (arg == "--mark") {
			mark = true;
		} else if (arg == "--processor") {
			processor = true;
		} else if (arg == "--seed") {
			seed = parse_number(value("--seed"), "seed");
		} else if (arg == "--ops") {
			ops = parse_number(value("--ops"), "--ops");
		} else if (arg == "--skip-meshes") {
			skip_meshes = parse_number(value("--skip-meshes"), "--skip-meshes");
			skip_meshes_given = true;
		} else if (arg.rfind("--", 0) == 0) {
			bad_usage("unknown option " + arg);
		} else if (scenario.empty()) {
			scenario = arg;
		} else {
			numbers.push_back(parse_number(argv[i], "number"));
		}
	}
	if (scenario.empty())
		bad_usage("no scenario");
	if (skip_meshes_given && scenario != "mesh")
		bad_usage("--skip-meshes is for the mesh scenario");

	standin::Truth truth, attached;
#ifdef STANDIN_NO_PROGRAM_SYMBOLS
	truth.programs_unseen();
	attached.programs_unseen();
#endif
	standin::add_observer(&truth);
	int exit_code = 0;
	auto need = [&](size_t n) {
		if (numbers.size() != n)
			bad_usage(scenario + " takes " + std::to_string(n) + " number(s)");
	};

	if (scenario == "remaining") {
		need(0);
		scenario_remaining();
	} else if (scenario == "subdevice") {
		need(0);
		scenario_subdevice();
	} else if (scenario == "mesh") {
		need(0);
		scenario_mesh(skip_meshes);
	} else if (scenario == "dataflow") {
		need(0);
		scenario_dataflow();
	} else if (scenario == "stacks") {
		need(0);
		scenario_stacks();
	} else if (scenario == "leak") {
		need(0);
		scenario_leak();
	} else if (scenario == "churn") {
		need(1);
		scenario_churn(numbers[0], seed);
	} else if (scenario == "threads") {
		need(1);
		scenario_threads(numbers[0], ops, seed);
	} else if (scenario == "wait") {
		need(0);
		scenario_wait(attach_truth_path.empty() ? nullptr : &attached);
	} else if (scenario == "fork-wait") {
		need(0);
		if (child_truth_path.empty())
			bad_usage("fork-wait needs --child-truth");
		if (!attach_truth_path.empty())
			standin::add_observer(&attached); /* nothing happens in it after the attach */
		scenario_fork_wait(child_truth_path);
	} else if (scenario == "double-free") {
		need(0);
		scenario_double_free(truth);
	} else if (scenario == "crash") {
		need(0);
		auto devices = open_devices(1);
		new auto(Buffer::create(devices[0], 6 * KIB, 2048, BufferType::DRAM, true));
		new auto(Buffer::create(devices[0], 1 * KIB, 1024, BufferType::L1, false));
		exit_code = -SIGKILL;
	} else if (scenario == "hammer") {
		need(2);
		scenario_hammer(numbers[0], (double)numbers[1], truth);
	} else if (scenario == "flood") {
		need(1);
		scenario_flood(numbers[0]);
	} else if (scenario == "accumulate") {
		need(1);
		scenario_accumulate(numbers[0], mark, truth);
	} else if (scenario == "steady") {
		need(1);
		scenario_steady(numbers[0], mark, truth);
	} else if (scenario == "loop") {
		need(1);
		scenario_loop(numbers[0], timed, truth);
	} else if (scenario == "buffers") {
		need(1);
		scenario_buffers(numbers[0], timed, processor);
	} else {
		bad_usage("unknown scenario " + scenario);
	}

	if (linger_ms)
		usleep((useconds_t)(linger_ms * 1000));
	standin::process_end();
	if (!truth_path.empty() && !truth.write(truth_path, scenario, exit_code)) {
		std::fprintf(stderr, "standin: cannot write %s\n", truth_path.c_str());
		return 1;
	}
	if (!attach_truth_path.empty() && !attached.write(attach_truth_path, scenario, exit_code)) {
		std::fprintf(stderr, "standin: cannot write %s\n", attach_truth_path.c_str());
		return 1;
	}
	std::fflush(nullptr);
	if (exit_code < 0)
		kill(getpid(), -exit_code);
	// Nothing may run after the truth is written: no destructor frees anything now.
	_exit(exit_code);
}
