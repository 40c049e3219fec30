/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unwinding without frame pointers, as perf --call-graph dwarf does: from
 * the registers at the probe, each frame's canonical frame address (CFA),
 * return address and saved registers come from the rules libdw reads out of
 * the module's .eh_frame (or .debug_frame), applied to the copy of the stack.
 *
 * The rules are evaluated here rather than by dwfl_getthread_frames: a
 * probed call may come a million times a second, and libdw builds a frame
 * state (and allocates) for every pc of every sample. The rule of a pc is
 * asked of libdw once and cached per module file, so that a sample costs a
 * hash lookup and a few loads per frame. Rules outside what compilers emit
 * for code (a CFA from a DWARF expression, as only PLT stubs and signal
 * frames have) end the stack there; it is counted as truncated.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include "../bpf/devledger.h"
#include "demangle.h"
#include "unwind.h"

/* x86-64's DWARF numbers of the registers a sample carries, by enum dl_stack_reg. */
static const int dwarf_regno[DL_STACK_REGS] = {
	[DL_REG_IP] = 16,  [DL_REG_SP] = 7,   [DL_REG_BP] = 6,	 [DL_REG_BX] = 3,
	[DL_REG_R12] = 12, [DL_REG_R13] = 13, [DL_REG_R14] = 14, [DL_REG_R15] = 15,
};

/* How a caller's register is found from this frame's CFA. */
enum rule_kind {
	RULE_UNDEFINED = 0, /* lost */
	RULE_SAME,	    /* this frame kept it */
	RULE_AT_CFA,	    /* saved at CFA + offset */
	RULE_CFA_PLUS,	    /* is CFA + offset */
};

struct reg_rule {
	int8_t kind; /* enum rule_kind */
	int64_t offset;
};

/* One pc's rules, cached per module file; ok false: no rule this unwinder can apply. */
struct rule {
	uint64_t vaddr; /* the pc looked up, in the file's addresses */
	bool used;
	bool ok;
	int8_t cfa_reg; /* enum dl_stack_reg */
	int64_t cfa_offset;
	struct reg_rule regs[DL_STACK_REGS]; /* DL_REG_IP: the return address */
};

/* One ELF file, opened once however many processes map it. */
struct image {
	char *path;
	uint64_t dev, inode;
	bool tried; /* image_open ran */
	bool dwarf_cfi_tried;
	Dwfl *dwfl;
	Dwfl_Module *module; /* reported at its own addresses: a pc's vaddr is its module address */
	Dwarf_CFI *cfi[2];   /* .eh_frame, .debug_frame; NULL where absent */
	Dwarf_Addr cfi_bias[2];
	struct rule *rules;
	size_t rule_capacity;
	size_t rule_count;
};

/*
 * An executable mapping of a process: a pc in [start, end) is at pc - bias
 * in the image; the bias is found (from the file's program headers) at the
 * mapping's first pc.
 */
struct mapping {
	uint64_t start, end, offset, bias;
	struct image *image;
	int8_t bias_known; /* 0 not yet, 1 yes, -1 it has none (not an ELF file, no such segment) */
};

struct process {
	uint32_t pid;
	bool exited;	      /* its exit was seen: a new sample with its pid is another process */
	bool gone;	      /* its mappings can be read no more: it has ended */
	uint64_t read_ns;     /* when its mappings were read last */
	struct mapping *maps; /* sorted by start */
	size_t map_count;
};

struct raw_frame {
	uint64_t pc;
	uint64_t vaddr;
	struct image *image; /* NULL: in no mapping */
};

struct stack {
	uint64_t hash;
	uint32_t process;
	uint32_t count;
	struct raw_frame *raw;
	struct unwind_frame *frames; /* symbolized on first ask */
	char **names;		     /* the demangled names frames[] point at */
};

/* A process's mappings are read again at most this often, 20 ms. */
#define MAPS_REREAD_NS 20000000ull

/* Which stack each recent sample made: a record finds its own sample's by sequence number. */
#define SEQUENCE_SLOTS (1u << 16)

struct sequence_slot {
	uint32_t sequence;
	uint32_t stack;
};

/* A file known by path (unwind__add_file). */
struct known_file {
	struct image *image;
	int library; /* its index in the cookies, -1 for an executable */
};

struct unwind {
	char maps_format[PATH_MAX];
	struct image **images;
	size_t image_count;
	struct known_file *known;
	size_t known_count;
	struct process *processes;
	size_t process_count;
	size_t last_process;
	struct stack *stacks; /* id - 1 */
	size_t stack_count;
	size_t stack_capacity;
	uint32_t *stack_index; /* open addressing: id, 0 empty */
	size_t index_capacity;
	struct sequence_slot sequences[SEQUENCE_SLOTS];
	struct unwind_stats stats;
};

static const Dwfl_Callbacks file_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

struct unwind *unwind__new(const struct unwind_opts *opts)
{
	struct unwind *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	snprintf(u->maps_format, sizeof(u->maps_format), "%s",
		 opts && opts->maps_format ? opts->maps_format : "/proc/%u/maps");
	return u;
}

static void free_image(struct image *image)
{
	if (!image)
		return;
	if (image->dwfl)
		dwfl_end(image->dwfl);
	free(image->rules);
	free(image->path);
	free(image);
}

void unwind__free(struct unwind *u)
{
	if (!u)
		return;
	for (size_t i = 0; i < u->image_count; i++)
		free_image(u->images[i]);
	free(u->images);
	free(u->known);
	for (size_t i = 0; i < u->process_count; i++)
		free(u->processes[i].maps);
	free(u->processes);
	for (size_t i = 0; i < u->stack_count; i++) {
		struct stack *s = &u->stacks[i];

		for (size_t f = 0; s->names && f < s->count; f++)
			free(s->names[f]);
		free(s->names);
		free(s->frames);
		free(s->raw);
	}
	free(u->stacks);
	free(u->stack_index);
	free(u);
}

/* ---- module files ---- */

/*
 * Open the file's ELF and call-frame information, at the first pc found in
 * it: reading a process's mappings must be quick (it may be about to exit),
 * and most of what it maps is never in a stack.
 */
static bool image_open(struct image *image)
{
	if (image->tried)
		return image->module != NULL;
	image->tried = true;
	image->dwfl = dwfl_begin(&file_callbacks);
	if (!image->dwfl)
		return false;
	/* base 0, p_vaddr added: the module's addresses are the file's own. */
	image->module = dwfl_report_elf(image->dwfl, image->path, image->path, -1, 0, true);
	dwfl_report_end(image->dwfl, NULL, NULL);
	if (!image->module)
		return false;
	image->cfi[0] = dwfl_module_eh_cfi(image->module, &image->cfi_bias[0]);
	return true;
}

/* The image of a file a process maps, opened at its first mapping anywhere. */
static struct image *image_for(struct unwind *u, const char *path, uint64_t dev, uint64_t inode)
{
	struct image **images, *image;

	for (size_t i = 0; i < u->image_count; i++)
		if (u->images[i]->inode == inode && u->images[i]->dev == dev &&
		    !strcmp(u->images[i]->path, path))
			return u->images[i];
	image = calloc(1, sizeof(*image));
	if (!image || !(image->path = strdup(path))) {
		free(image);
		return NULL;
	}
	image->dev = dev;
	image->inode = inode;
	images = realloc(u->images, (u->image_count + 1) * sizeof(*images));
	if (!images) {
		free_image(image);
		return NULL;
	}
	u->images = images;
	u->images[u->image_count++] = image;
	return image;
}

/*
 * Where the file's address 0 is in the process: the PT_LOAD that holds the
 * mapping's file offset maps p_offset at p_vaddr + bias.
 */
static bool load_bias(struct image *image, uint64_t start, uint64_t offset, uint64_t *bias)
{
	GElf_Addr elf_bias;
	Elf *elf;
	size_t phnum;

	if (!image_open(image) || !(elf = dwfl_module_getelf(image->module, &elf_bias)) ||
	    elf_getphdrnum(elf, &phnum))
		return false;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);

		if (!ph || ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (offset >= (ph->p_offset & ~0xfffull) && offset < ph->p_offset + ph->p_filesz) {
			*bias = start + ph->p_offset - offset - ph->p_vaddr;
			return true;
		}
	}
	return false;
}

/* ---- processes and their mappings ---- */

static int compare_mappings(const void *a, const void *b)
{
	const struct mapping *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The whole of a /proc file, NUL-terminated; NULL on failure. */
static char *read_all(FILE *f, size_t *len)
{
	size_t capacity = 64 << 10, used = 0, n;
	char *text = malloc(capacity + 1);

	while (text && (n = fread(text + used, 1, capacity - used, f)) > 0) {
		used += n;
		if (used == capacity) {
			char *bigger = realloc(text, capacity * 2 + 1);

			if (!bigger) {
				free(text);
				return NULL;
			}
			text = bigger;
			capacity *= 2;
		}
	}
	if (text)
		text[used] = '\0';
	*len = used;
	return text;
}

/* Read the process's executable mappings again. 0, or -errno (-ENOENT: it is gone). */
static int read_maps(struct unwind *u, struct process *p)
{
	char path[PATH_MAX + 32], *text;
	struct mapping *maps = NULL;
	size_t count = 0, capacity = 0, text_len;
	FILE *f;

	snprintf(path, sizeof(path), u->maps_format, p->pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	u->stats.maps_reads++;
	/* All of it first, before the process can end: then what it says. */
	text = read_all(f, &text_len);
	fclose(f);
	if (!text)
		return -ENOMEM;
	for (char *at = text, *next; at < text + text_len; at = next) {
		unsigned long long start, end, offset, inode;
		unsigned int major, minor;
		char perms[8];
		int name = 0;
		struct image *image;
		char *line = at;

		next = memchr(at, '\n', (size_t)(text + text_len - at));
		next = next ? next + 1 : text + text_len;
		next[-1] = '\0';

		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &offset,
			   &major, &minor, &inode, &name) < 7 ||
		    !name || perms[2] != 'x' || line[name] != '/')
			continue;
		/* A file deleted since it was mapped: its rules may be another file's now. */
		if (strstr(line + name, " (deleted)"))
			continue;
		image = image_for(u, line + name, ((uint64_t)major << 32) | minor, inode);
		if (!image)
			continue;
		if (count == capacity) {
			size_t grown = capacity ? capacity * 2 : 32;
			struct mapping *bigger = realloc(maps, grown * sizeof(*maps));

			if (!bigger) {
				free(maps);
				free(text);
				return -ENOMEM;
			}
			maps = bigger;
			capacity = grown;
		}
		maps[count++] = (struct mapping){
			.start = start, .end = end, .offset = offset, .image = image
		};
	}
	free(text);
	/* An exited process's maps are empty: what was read while it ran stays right. */
	if (!count) {
		free(maps);
		return -ENOENT;
	}
	qsort(maps, count, sizeof(*maps), compare_mappings);
	free(p->maps);
	p->maps = maps;
	p->map_count = count;
	return 0;
}

int unwind__add_file(struct unwind *u, const char *path, int library)
{
	char real[PATH_MAX];
	struct known_file *known;
	struct image *image;
	struct stat st;

	if (!realpath(path, real) || stat(real, &st))
		return -errno;
	image = image_for(u, real, ((uint64_t)major(st.st_dev) << 32) | minor(st.st_dev),
			  st.st_ino);
	if (!image)
		return -ENOMEM;
	known = realloc(u->known, (u->known_count + 1) * sizeof(*known));
	if (!known)
		return -ENOMEM;
	u->known = known;
	u->known[u->known_count++] = (struct known_file){ .image = image, .library = library };
	return 0;
}

/* Mappings of the image's executable segments at this bias; -ENOMEM, or 0. */
static int add_segments(struct process *p, struct image *image, uint64_t bias)
{
	GElf_Addr elf_bias;
	Elf *elf;
	size_t phnum;

	if (!image_open(image) || !(elf = dwfl_module_getelf(image->module, &elf_bias)) ||
	    elf_getphdrnum(elf, &phnum))
		return 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);
		struct mapping *maps;

		if (!ph || ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		maps = realloc(p->maps, (p->map_count + 1) * sizeof(*maps));
		if (!maps)
			return -ENOMEM;
		p->maps = maps;
		p->maps[p->map_count++] = (struct mapping){ .start = bias + ph->p_vaddr,
							    .end = bias + ph->p_vaddr + ph->p_memsz,
							    .bias = bias,
							    .image = image,
							    .bias_known = 1 };
	}
	return 0;
}

/* The lowest address of the image's executable segments (what mm->start_code is less the bias). */
static bool lowest_code(struct image *image, uint64_t *vaddr)
{
	GElf_Addr elf_bias;
	Elf *elf;
	size_t phnum;
	bool found = false;

	if (!image_open(image) || !(elf = dwfl_module_getelf(image->module, &elf_bias)) ||
	    elf_getphdrnum(elf, &phnum))
		return false;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, (int)i, &mem);

		if (ph && ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    (!found || ph->p_vaddr < *vaddr)) {
			*vaddr = ph->p_vaddr;
			found = true;
		}
	}
	return found;
}

/*
 * A process gone before its mappings were read: the known files it mapped,
 * placed by what its sample carries (the library's bias, the executable's
 * inode and start of code). Frames elsewhere stay without a module.
 */
static int place_known_files(struct unwind *u, struct process *p, const struct dl_stack_sample *s)
{
	int err = 0;

	for (size_t i = 0; i < u->known_count && !err; i++) {
		struct known_file *k = &u->known[i];
		uint64_t low = 0;

		if (k->library >= 0 && (uint32_t)k->library == s->library && s->library_bias)
			err = add_segments(p, k->image, s->library_bias);
		else if (k->library < 0 && s->exe_inode && k->image->inode == s->exe_inode &&
			 s->exe_start && lowest_code(k->image, &low))
			err = add_segments(p, k->image, s->exe_start - low);
	}
	if (p->map_count)
		qsort(p->maps, p->map_count, sizeof(*p->maps), compare_mappings);
	return err;
}

/* The live process with this pid, made at its first sample. */
static struct process *process_for(struct unwind *u, const struct dl_stack_sample *s, size_t *index)
{
	uint32_t pid = s->pid;
	struct process *grown;

	if (u->last_process < u->process_count && u->processes[u->last_process].pid == pid &&
	    !u->processes[u->last_process].exited) {
		*index = u->last_process;
		return &u->processes[*index];
	}
	for (size_t i = u->process_count; i-- > 0;) {
		if (u->processes[i].pid == pid && !u->processes[i].exited) {
			*index = u->last_process = i;
			return &u->processes[i];
		}
	}
	grown = realloc(u->processes, (u->process_count + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	u->processes = grown;
	*index = u->last_process = u->process_count++;
	u->processes[*index] = (struct process){ .pid = pid };
	u->processes[*index].gone = read_maps(u, &u->processes[*index]) == -ENOENT;
	u->processes[*index].read_ns = now_ns();
	if (u->processes[*index].gone && place_known_files(u, &u->processes[*index], s))
		return NULL;
	return &u->processes[*index];
}

void unwind__process_exited(struct unwind *u, uint32_t pid)
{
	for (size_t i = 0; i < u->process_count; i++)
		if (u->processes[i].pid == pid)
			u->processes[i].exited = true;
}

uint32_t unwind__record_stack(struct unwind *u, const void *record, size_t size)
{
	const struct dl_event *ev = record;
	const struct dl_exit_event *exit_ev = record;

	if (!u)
		return 0;
	if (size == sizeof(*exit_ev) && exit_ev->kind == DL_EV_PROCESS_EXIT)
		unwind__process_exited(u, exit_ev->pid);
	if (size != sizeof(*ev) || ev->kind == DL_EV_PROCESS_EXIT)
		return 0;
	return unwind__stack_of(u, ev->stack);
}

static const struct mapping *mapping_of(struct process *p, uint64_t pc)
{
	size_t lo = 0, hi = p->map_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct mapping *m = &p->maps[mid];

		if (pc < m->start) {
			hi = mid;
		} else if (pc >= m->end) {
			lo = mid + 1;
		} else {
			if (!m->bias_known)
				m->bias_known =
					load_bias(m->image, m->start, m->offset, &m->bias) ? 1 : -1;
			return m->bias_known > 0 ? m : NULL;
		}
	}
	return NULL;
}

/* ---- one pc's rules, from libdw once, then from the cache ---- */

static struct reg_rule reg_rule_of(Dwarf_Frame *frame, int regno)
{
	Dwarf_Op mem[3], *ops;
	size_t nops;

	if (dwarf_frame_register(frame, regno, mem, &ops, &nops))
		return (struct reg_rule){ RULE_UNDEFINED, 0 };
	if (nops == 0)
		return (struct reg_rule){ ops ? RULE_UNDEFINED : RULE_SAME, 0 };
	if (ops[0].atom != DW_OP_call_frame_cfa)
		return (struct reg_rule){ RULE_UNDEFINED, 0 };
	/* CFA, then an offset (plus_uconst wraps: CFI offsets below the CFA are negative) */
	{
		int64_t offset = 0;
		size_t i = 1;
		bool value = false;

		if (i < nops && ops[i].atom == DW_OP_plus_uconst)
			offset = (int64_t)ops[i++].number;
		if (i < nops && ops[i].atom == DW_OP_stack_value) {
			value = true;
			i++;
		}
		if (i != nops)
			return (struct reg_rule){ RULE_UNDEFINED, 0 };
		return (struct reg_rule){ value ? RULE_CFA_PLUS : RULE_AT_CFA, offset };
	}
}

static void rule_from_dwarf(struct image *image, uint64_t vaddr, struct rule *rule)
{
	for (int c = 0; c < 2; c++) {
		Dwarf_Frame *frame = NULL;
		Dwarf_Op *ops;
		size_t nops;

		/* .debug_frame only where .eh_frame has no rule: it loads the file's DWARF. */
		if (c == 1 && !image->dwarf_cfi_tried) {
			image->dwarf_cfi_tried = true;
			image->cfi[1] = dwfl_module_dwarf_cfi(image->module, &image->cfi_bias[1]);
		}
		if (!image->cfi[c] ||
		    dwarf_cfi_addrframe(image->cfi[c], vaddr - image->cfi_bias[c], &frame))
			continue;
		if (!dwarf_frame_cfa(frame, &ops, &nops) && nops == 1 &&
		    ops[0].atom == DW_OP_bregx) {
			for (int r = 0; r < DL_STACK_REGS; r++)
				if (dwarf_regno[r] == (int)ops[0].number)
					rule->cfa_reg = (int8_t)r;
			rule->cfa_offset = (int64_t)ops[0].number2;
			for (int r = 0; r < DL_STACK_REGS; r++)
				rule->regs[r] = reg_rule_of(frame, dwarf_regno[r]);
			/* A CFA from a register the sample does not carry cannot be found. */
			rule->ok = rule->cfa_reg >= 0;
		}
		free(frame);
		if (rule->ok)
			return;
	}
}

static size_t rule_home(uint64_t vaddr, size_t capacity)
{
	return (size_t)(mix(0, vaddr) & (capacity - 1));
}

static const struct rule *rule_for(struct unwind *u, struct image *image, uint64_t vaddr)
{
	struct rule *slot;

	if ((image->rule_count + 1) * 2 > image->rule_capacity) {
		size_t capacity = image->rule_capacity ? image->rule_capacity * 2 : 1024;
		struct rule *rules = calloc(capacity, sizeof(*rules));

		if (!rules)
			return NULL;
		for (size_t i = 0; i < image->rule_capacity; i++) {
			struct rule *old = &image->rules[i];
			size_t h = rule_home(old->vaddr, capacity);

			if (!old->used)
				continue;
			while (rules[h].used)
				h = (h + 1) & (capacity - 1);
			rules[h] = *old;
		}
		free(image->rules);
		image->rules = rules;
		image->rule_capacity = capacity;
	}
	for (size_t h = rule_home(vaddr, image->rule_capacity);;
	     h = (h + 1) & (image->rule_capacity - 1)) {
		slot = &image->rules[h];
		if (!slot->used)
			break;
		if (slot->vaddr == vaddr) {
			u->stats.rule_hits++;
			return slot;
		}
	}
	*slot = (struct rule){ .vaddr = vaddr, .used = true, .cfa_reg = -1 };
	image->rule_count++;
	rule_from_dwarf(image, vaddr, slot);
	return slot;
}

/* ---- the unwinding ---- */

struct registers {
	uint64_t value[DL_STACK_REGS];
	bool known[DL_STACK_REGS];
};

/* A word of the copied stack, if the copy holds it. */
static bool stack_word(const struct dl_stack_sample *s, uint64_t address, uint64_t *word)
{
	uint64_t sp = s->regs[DL_REG_SP];

	if (address < sp || address - sp > s->bytes || s->bytes - (address - sp) < sizeof(*word))
		return false;
	memcpy(word, s->stack + (address - sp), sizeof(*word));
	return true;
}

/* The caller's registers from this frame's: false when the stack ends or cannot go on. */
static bool step(const struct dl_stack_sample *s, const struct rule *rule, struct registers *regs,
		 bool *outermost)
{
	struct registers caller = { 0 };
	uint64_t cfa;

	*outermost = false;
	if (!regs->known[rule->cfa_reg])
		return false;
	cfa = regs->value[rule->cfa_reg] + (uint64_t)rule->cfa_offset;
	for (int r = 0; r < DL_STACK_REGS; r++) {
		const struct reg_rule *rr = &rule->regs[r];

		switch (rr->kind) {
		case RULE_SAME:
			caller.value[r] = regs->value[r];
			caller.known[r] = regs->known[r];
			break;
		case RULE_AT_CFA:
			caller.known[r] =
				stack_word(s, cfa + (uint64_t)rr->offset, &caller.value[r]);
			break;
		case RULE_CFA_PLUS:
			caller.value[r] = cfa + (uint64_t)rr->offset;
			caller.known[r] = true;
			break;
		}
	}
	/* A return address the uretprobe trampoline took the place of: the real one. */
	if (rule->regs[DL_REG_IP].kind == RULE_AT_CFA && caller.known[DL_REG_IP]) {
		uint64_t slot = cfa + (uint64_t)rule->regs[DL_REG_IP].offset;

		for (int i = 0; i < DL_STACK_RETURNS && s->return_slots[i]; i++)
			if (s->return_slots[i] == slot)
				caller.value[DL_REG_IP] = s->return_addresses[i];
	}
	/* The return address undefined: the outermost frame (_start, a thread's start). */
	if (rule->regs[DL_REG_IP].kind == RULE_UNDEFINED) {
		*outermost = true;
		return false;
	}
	/* x86-64: the caller's sp is the CFA. */
	caller.value[DL_REG_SP] = cfa;
	caller.known[DL_REG_SP] = true;
	if (!caller.known[DL_REG_IP] || !caller.value[DL_REG_IP]) {
		*outermost = caller.known[DL_REG_IP];
		return false;
	}
	/* A stack grows down: a caller's frame is above. Anything else is a loop. */
	if (cfa <= regs->value[DL_REG_SP])
		return false;
	*regs = caller;
	return true;
}

/* Unwind a sample into frames; returns how many, sets *complete when it reached the outermost. */
static size_t unwind_sample(struct unwind *u, struct process *p, const struct dl_stack_sample *s,
			    struct raw_frame *frames, bool *complete)
{
	struct registers regs;
	bool reread = false;
	size_t n = 0;

	*complete = false;
	for (int r = 0; r < DL_STACK_REGS; r++) {
		regs.value[r] = s->regs[r];
		regs.known[r] = true;
	}
	/* At a return: the function that returned first, then its caller at the return address. */
	if (s->returned_from) {
		const struct mapping *m = mapping_of(p, s->returned_from);

		frames[n++] = (struct raw_frame){ .pc = s->returned_from,
						  .vaddr = m ? s->returned_from - m->bias : 0,
						  .image = m ? m->image : NULL };
	}
	while (n < UNWIND_MAX_FRAMES) {
		uint64_t pc = regs.value[DL_REG_IP];
		const struct mapping *m = mapping_of(p, pc);
		const struct rule *rule;
		bool outermost;

		/*
		 * A module mapped since the mappings were read (dlopen): read them
		 * again, once a sample and not more often than every MAPS_REREAD_NS,
		 * as a return address that is garbage (a stack the rules misread)
		 * looks the same.
		 */
		if (!m && !reread && !p->gone && now_ns() - p->read_ns >= MAPS_REREAD_NS) {
			reread = true;
			p->read_ns = now_ns();
			if (read_maps(u, p) == -ENOENT)
				p->gone = true;
			m = mapping_of(p, pc);
		}
		frames[n] = (struct raw_frame){ .pc = pc,
						.vaddr = m ? pc - m->bias : 0,
						.image = m ? m->image : NULL };
		n++;
		if (!m)
			break;
		/* A caller's pc is a return address: the call is the instruction before it. */
		rule = rule_for(u, m->image, frames[n - 1].vaddr - (n > 1));
		if (!rule || !rule->ok)
			break;
		if (!step(s, rule, &regs, &outermost)) {
			*complete = outermost;
			break;
		}
	}
	return n;
}

/* ---- stacks, deduplicated ---- */

static uint64_t hash_frames(uint32_t process, const struct raw_frame *frames, size_t n)
{
	uint64_t h = mix(0x5eed, process);

	for (size_t i = 0; i < n; i++)
		h = mix(h, frames[i].pc);
	return h;
}

static bool same_stack(const struct stack *s, uint32_t process, const struct raw_frame *frames,
		       size_t n)
{
	if (s->process != process || s->count != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s->raw[i].pc != frames[i].pc)
			return false;
	return true;
}

static int grow_index(struct unwind *u)
{
	size_t capacity = u->index_capacity ? u->index_capacity * 2 : 1024;
	uint32_t *index = calloc(capacity, sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (size_t i = 0; i < u->stack_count; i++) {
		size_t h = u->stacks[i].hash & (capacity - 1);

		while (index[h])
			h = (h + 1) & (capacity - 1);
		index[h] = (uint32_t)(i + 1);
	}
	free(u->stack_index);
	u->stack_index = index;
	u->index_capacity = capacity;
	return 0;
}

/* The id of this stack, made if new. 0 on failure (-ENOMEM). */
static uint32_t stack_id(struct unwind *u, uint32_t process, const struct raw_frame *frames,
			 size_t n)
{
	uint64_t hash = hash_frames(process, frames, n);
	struct stack *s;
	size_t h;

	if ((u->stack_count + 1) * 2 > u->index_capacity && grow_index(u))
		return 0;
	for (h = hash & (u->index_capacity - 1); u->stack_index[h];
	     h = (h + 1) & (u->index_capacity - 1)) {
		s = &u->stacks[u->stack_index[h] - 1];
		if (s->hash == hash && same_stack(s, process, frames, n)) {
			u->stats.stack_hits++;
			return u->stack_index[h];
		}
	}
	if (u->stack_count == u->stack_capacity) {
		size_t capacity = u->stack_capacity ? u->stack_capacity * 2 : 256;
		struct stack *stacks = realloc(u->stacks, capacity * sizeof(*stacks));

		if (!stacks)
			return 0;
		u->stacks = stacks;
		u->stack_capacity = capacity;
	}
	s = &u->stacks[u->stack_count];
	*s = (struct stack){ .hash = hash, .process = process, .count = (uint32_t)n };
	s->raw = malloc(n * sizeof(*s->raw));
	if (!s->raw)
		return 0;
	memcpy(s->raw, frames, n * sizeof(*frames));
	u->stack_count++;
	u->stats.unique_stacks++;
	u->stack_index[h] = (uint32_t)u->stack_count;
	return (uint32_t)u->stack_count;
}

int unwind__add_sample(struct unwind *u, const void *data, size_t size)
{
	const struct dl_stack_sample *s = data;
	struct raw_frame frames[UNWIND_MAX_FRAMES];
	uint64_t start = now_ns();
	struct process *p;
	size_t process, n;
	bool complete;
	uint32_t id;

	if (size < sizeof(*s) || s->bytes > size - sizeof(*s) || !s->sequence)
		return -EINVAL;
	u->stats.samples++;
	p = process_for(u, s, &process);
	if (!p)
		return -ENOMEM;
	n = unwind_sample(u, p, s, frames, &complete);
	u->stats.frames += n;
	if (!frames[0].image)
		u->stats.unmapped++;
	else if (!complete)
		u->stats.truncated++;
	id = stack_id(u, (uint32_t)process, frames, n);
	if (!id)
		return -ENOMEM;
	u->sequences[s->sequence % SEQUENCE_SLOTS] =
		(struct sequence_slot){ .sequence = s->sequence, .stack = id };
	u->stats.unwind_ns += now_ns() - start;
	return 0;
}

uint32_t unwind__stack_of(const struct unwind *u, uint32_t sequence)
{
	const struct sequence_slot *slot = &u->sequences[sequence % SEQUENCE_SLOTS];

	return sequence && slot->sequence == sequence ? slot->stack : 0;
}

uint32_t unwind__stack_pid(const struct unwind *u, uint32_t id)
{
	if (!id || id > u->stack_count)
		return 0;
	return u->processes[u->stacks[id - 1].process].pid;
}

/* ---- symbols, on demand ---- */

/*
 * The line of a module address, by a walk of the compile units: Debian 12's
 * libdw finds no unit for an address in clang's DWARF 5 (no .debug_aranges),
 * though each unit knows its own ranges. Only the unit that holds the
 * address has its line table read.
 */
static const char *line_by_units(struct image *image, uint64_t vaddr, int *lineno)
{
	Dwarf_Addr bias;
	Dwarf *dwarf = dwfl_module_getdwarf(image->module, &bias);
	Dwarf_Off offset = 0, next;
	size_t header;

	while (dwarf && !dwarf_nextcu(dwarf, offset, &next, &header, NULL, NULL, NULL)) {
		Dwarf_Die unit;
		Dwarf_Line *line;

		if (dwarf_offdie(dwarf, offset + header, &unit) &&
		    dwarf_haspc(&unit, vaddr - bias) > 0 &&
		    (line = dwarf_getsrc_die(&unit, vaddr - bias)) && !dwarf_lineno(line, lineno))
			return dwarf_linesrc(line, NULL, NULL);
		offset = next;
	}
	return NULL;
}

static void symbolize(const struct raw_frame *raw, bool caller, struct unwind_frame *frame,
		      char **name)
{
	/* A return address is past its call: its function and line are the call's. */
	uint64_t lookup = raw->vaddr - caller;
	GElf_Off offset = 0;
	GElf_Sym sym;
	const char *symbol;
	Dwfl_Line *line;
	int lineno = 0;

	*frame = (struct unwind_frame){ .address = raw->pc };
	*name = NULL;
	if (!raw->image)
		return;
	frame->module = raw->image->path;
	if (!image_open(raw->image))
		return;
	symbol = dwfl_module_addrinfo(raw->image->module, lookup, &offset, &sym, NULL, NULL, NULL);
	if (symbol) {
		char readable[1024];

		*name = strdup(demangle(symbol, readable, sizeof(readable)));
		frame->function = *name;
		frame->offset = offset + caller;
	}
	line = dwfl_module_getsrc(raw->image->module, lookup);
	if (line)
		frame->file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
	else
		frame->file = line_by_units(raw->image, lookup, &lineno);
	frame->line = frame->file && lineno > 0 ? (unsigned int)lineno : 0;
	if (!frame->line)
		frame->file = NULL;
}

int unwind__frames(struct unwind *u, uint32_t id, const struct unwind_frame **frames, size_t *count)
{
	struct stack *s;

	if (!id || id > u->stack_count)
		return -ENOENT;
	s = &u->stacks[id - 1];
	if (!s->frames) {
		s->frames = calloc(s->count, sizeof(*s->frames));
		s->names = calloc(s->count, sizeof(*s->names));
		if (!s->frames || !s->names) {
			free(s->frames);
			free(s->names);
			s->frames = NULL;
			s->names = NULL;
			return -ENOMEM;
		}
		for (size_t i = 0; i < s->count; i++)
			symbolize(&s->raw[i], i > 0, &s->frames[i], &s->names[i]);
	}
	*frames = s->frames;
	*count = s->count;
	return 0;
}

void unwind__stats(const struct unwind *u, struct unwind_stats *stats)
{
	*stats = u->stats;
}
