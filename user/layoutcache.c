/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The cache entry is a small text file, one answer a line:
 *
 *	devledger-layout-cache 1 VERSION
 *	build-id HEX
 *	debug-info BYTES              the size of .debug_info in the file (0: none)
 *	status N                      dwarf_layout__read's return (0, -ENODATA, ...)
 *	field CLASS MEMBER OFFSET     OFFSET "-": the DWARF lacks it
 *	end
 *
 * "end" makes a cut-short file damaged, not short. Another devledger
 * version's entry is read again from the DWARF (the walk may have changed),
 * without a warning; so is one for a copy of the same build stripped of its
 * debug info or with it compressed (the build-id stays, the DWARF does not).
 */
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dwarflayout.h"
#include "layoutcache.h"

#include "../bpf/devledger.h"

#define CACHE_MAGIC	  "devledger-layout-cache"
#define CACHE_FORMAT	  1
#define CACHE_MAX_ENTRIES 256
#define CACHE_NAME_MAX	  256

#ifndef DEVLEDGER_VERSION
#define DEVLEDGER_VERSION "unknown"
#endif

struct cache_entry {
	char class_name[CACHE_NAME_MAX];
	char member[CACHE_NAME_MAX];
	unsigned int offset;
};

struct cache {
	int status;
	size_t count;
	struct cache_entry entries[CACHE_MAX_ENTRIES];
};

/* The size of .debug_info (or its compressed forms) as the file holds it, 0 without one. */
static uint64_t debug_info_bytes(Elf *elf)
{
	Elf_Scn *scn = NULL;
	size_t names;

	if (elf_getshdrstrndx(elf, &names))
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		const char *name;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, names, shdr.sh_name);
		if (name && (!strcmp(name, ".debug_info") || !strcmp(name, ".zdebug_info")))
			return shdr.sh_size;
	}
	return 0;
}

/* The build-id as hex, and the debug info's size: what an entry is kept under. */
static int identify(const char *library, char *buf, size_t len, uint64_t *debug_bytes)
{
	const unsigned char *id;
	Elf *elf = NULL;
	ssize_t size = -1;
	int fd;

	fd = open(library, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (elf_version(EV_CURRENT) != EV_NONE)
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf)
		size = dwelf_elf_gnu_build_id(elf, (const void **)&id);
	if (size > 0 && (size_t)size * 2 < len) {
		for (ssize_t i = 0; i < size; i++)
			snprintf(buf + 2 * i, 3, "%02x", id[i]);
		*debug_bytes = debug_info_bytes(elf);
	}
	elf_end(elf);
	close(fd);
	return size > 0 && (size_t)size * 2 < len ? 0 : -ENOENT;
}

int layout_cache__build_id(const char *library, char *buf, size_t len)
{
	uint64_t debug_bytes;

	return identify(library, buf, len, &debug_bytes);
}

/* $XDG_CACHE_HOME/devledger, else ~/.cache/devledger; -ENOENT when neither is set. */
static int cache_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;

	/* The XDG spec: a relative path is invalid and ignored. */
	if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/devledger", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.cache/devledger", home);
	else
		return -ENOENT;
	return n > 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

/* mkdir -p, private to the user: the entry decides what devledger reads. */
static int make_dirs(const char *path)
{
	char partial[PATH_MAX];

	for (const char *p = strchr(path + 1, '/');; p = strchr(p + 1, '/')) {
		size_t n = p ? (size_t)(p - path) : strlen(path);

		if (n >= sizeof(partial))
			return -ENAMETOOLONG;
		memcpy(partial, path, n);
		partial[n] = '\0';
		if (mkdir(partial, 0700) && errno != EEXIST)
			return -errno;
		if (!p)
			return 0;
	}
}

static bool cacheable(int status)
{
	/* Facts of the file; anything else (ENOMEM, EACCES ...) may differ next time. */
	return status == 0 || status == -ENODATA || status == -EFBIG || status == -EBADMSG;
}

/*
 * Parse one entry file. 1: read; 0: none or another version's (not a
 * warning); -EBADMSG: damaged, or not to be trusted (*why says which).
 */
static int cache_load(const char *path, const char *build_id, uint64_t debug_bytes,
		      struct cache *cache, const char **why)
{
	uint64_t bytes;
	char line[3 * CACHE_NAME_MAX], version[64], id[256];
	bool ended = false;
	struct stat st;
	int format;
	FILE *f;

	cache->count = 0;
	cache->status = 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	*why = "damaged";
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		fclose(f);
		return -EBADMSG;
	}
	/* Written by someone else, or writable by others: its offsets cannot be trusted. */
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		*why = "not owned by this user, or writable by others";
		fclose(f);
		return -EBADMSG;
	}
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, CACHE_MAGIC " %d %63s", &format, version) != 2)
		goto damaged;
	if (format != CACHE_FORMAT || strcmp(version, DEVLEDGER_VERSION)) {
		fclose(f);
		return 0;
	}
	if (!fgets(line, sizeof(line), f) || sscanf(line, "build-id %255s", id) != 1)
		goto damaged;
	if (strcmp(id, build_id)) {
		*why = "made for another build-id";
		goto damaged;
	}
	if (!fgets(line, sizeof(line), f) || sscanf(line, "debug-info %" SCNu64, &bytes) != 1)
		goto damaged;
	if (bytes != debug_bytes) {
		fclose(f);
		return 0;
	}
	if (!fgets(line, sizeof(line), f) || sscanf(line, "status %d", &cache->status) != 1 ||
	    !cacheable(cache->status))
		goto damaged;
	while (fgets(line, sizeof(line), f)) {
		struct cache_entry *e = &cache->entries[cache->count];
		char offset[16], *end;
		unsigned long value;

		if (!strcmp(line, "end\n")) {
			ended = true;
			break;
		}
		if (cache->count == CACHE_MAX_ENTRIES || !strchr(line, '\n') ||
		    sscanf(line, "field %255s %255s %15s", e->class_name, e->member, offset) != 3)
			goto damaged;
		if (!strcmp(offset, "-")) {
			e->offset = DL_OFFSET_UNKNOWN;
		} else {
			errno = 0;
			value = strtoul(offset, &end, 10);
			if (errno || *end || end == offset || value >= DL_OFFSET_UNKNOWN)
				goto damaged;
			e->offset = (unsigned int)value;
		}
		cache->count++;
	}
	if (!ended || fgets(line, sizeof(line), f))
		goto damaged;
	fclose(f);
	return 1;
damaged:
	fclose(f);
	cache->count = 0;
	return -EBADMSG;
}

static struct cache_entry *cache_find(struct cache *cache, const struct dwarf_query *q)
{
	for (size_t i = 0; i < cache->count; i++)
		if (!strcmp(cache->entries[i].class_name, q->class_name) &&
		    !strcmp(cache->entries[i].member, q->member))
			return &cache->entries[i];
	return NULL;
}

/* A name that the line format can carry: no blanks, not empty, not too long. */
static bool storable(const char *name)
{
	size_t len = strlen(name);

	return len && len < CACHE_NAME_MAX && !strpbrk(name, " \t\n\r");
}

/* The whole entry to a temporary file beside it, then renamed over it: never half an entry. */
static int cache_write(const char *dir, const char *path, const char *build_id,
		       uint64_t debug_bytes, const struct cache *cache)
{
	char tmp[PATH_MAX];
	int fd, err = 0;
	FILE *f;

	err = make_dirs(dir);
	if (err)
		return err;
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	fprintf(f, CACHE_MAGIC " %d %s\nbuild-id %s\ndebug-info %" PRIu64 "\nstatus %d\n",
		CACHE_FORMAT, DEVLEDGER_VERSION, build_id, debug_bytes, cache->status);
	for (size_t i = 0; i < cache->count; i++) {
		const struct cache_entry *e = &cache->entries[i];

		if (e->offset == DL_OFFSET_UNKNOWN)
			fprintf(f, "field %s %s -\n", e->class_name, e->member);
		else
			fprintf(f, "field %s %s %u\n", e->class_name, e->member, e->offset);
	}
	fprintf(f, "end\n");
	if (fflush(f) || fsync(fd))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

int layout_cache__read(const char *library, const struct dwarf_query *queries, size_t count,
		       unsigned int *offsets, struct layout_cache_info *info)
{
	char build_id[256], dir[PATH_MAX];
	uint64_t debug_bytes = 0;
	struct cache *cache;
	const char *why = NULL;
	bool hit = true;
	int loaded, err, status;

	info->use = LAYOUT_CACHE_OFF;
	info->path[0] = '\0';
	if (identify(library, build_id, sizeof(build_id), &debug_bytes) ||
	    cache_dir(dir, sizeof(dir)) ||
	    /* A stripped copy of a build has its build-id: each copy's own entry, not one overwritten. */
	    snprintf(info->path, sizeof(info->path), "%s/%s-%llu.layout", dir, build_id,
		     (unsigned long long)debug_bytes) >= (int)sizeof(info->path)) {
		info->path[0] = '\0';
		return dwarf_layout__read(library, queries, count, offsets);
	}
	cache = calloc(1, sizeof(*cache));
	if (!cache)
		return -ENOMEM;
	loaded = cache_load(info->path, build_id, debug_bytes, cache, &why);
	if (loaded < 0)
		fprintf(stderr,
			"devledger: warning: %s: layout cache entry %s: ignored, read again from the DWARF\n",
			info->path, why);
	for (size_t i = 0; i < count && hit; i++) {
		const struct cache_entry *e = cache_find(cache, &queries[i]);

		hit = loaded > 0 && (cache->status != 0 || e);
		offsets[i] = e && cache->status == 0 ? e->offset : DL_OFFSET_UNKNOWN;
	}
	if (loaded > 0 && hit) {
		info->use = LAYOUT_CACHE_HIT;
		status = cache->status;
		free(cache);
		return status;
	}
	status = dwarf_layout__read(library, queries, count, offsets);
	if (!cacheable(status)) {
		free(cache);
		return status;
	}
	/* What was known for this build stays; another status starts the entry afresh. */
	if (loaded <= 0 || cache->status != status)
		cache->count = 0;
	cache->status = status;
	for (size_t i = 0; status == 0 && i < count; i++) {
		struct cache_entry *e = cache_find(cache, &queries[i]);

		if (!storable(queries[i].class_name) || !storable(queries[i].member))
			continue;
		if (!e && cache->count == CACHE_MAX_ENTRIES)
			break;
		if (!e) {
			e = &cache->entries[cache->count++];
			snprintf(e->class_name, sizeof(e->class_name), "%s", queries[i].class_name);
			snprintf(e->member, sizeof(e->member), "%s", queries[i].member);
		}
		e->offset = offsets[i];
	}
	err = cache_write(dir, info->path, build_id, debug_bytes, cache);
	/* A cache this user may not write (another's home) is no fault: it only costs time. */
	if (err && err != -EACCES && err != -EPERM && err != -EROFS)
		fprintf(stderr,
			"devledger: warning: %s: cannot write the layout cache (%s): the DWARF will be read again next time\n",
			info->path, strerror(-err));
	else
		info->use = LAYOUT_CACHE_STORED;
	free(cache);
	return status;
}
