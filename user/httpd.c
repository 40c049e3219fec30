/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>

#include "httpd.h"

/* The soname Debian 12's libmicrohttpd12 ships, whose API the header above describes. */
#define HTTPD_SONAME "libmicrohttpd.so.12"

static struct httpd_api api;
static bool loaded;

static bool resolve(void *handle, void **slot, const char *name)
{
	*slot = dlsym(handle, name);
	if (!*slot)
		fprintf(stderr, "devledger: %s has no %s: install libmicrohttpd12\n", HTTPD_SONAME,
			name);
	return *slot != NULL;
}

const struct httpd_api *httpd__load(void)
{
	void *handle;

	if (loaded)
		return &api;
	handle = dlopen(HTTPD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		fprintf(stderr, "devledger: cannot load %s (%s): install libmicrohttpd12\n",
			HTTPD_SONAME, dlerror());
		return NULL;
	}
	/* Through void ** slots: ISO C has no cast from an object pointer to a function pointer. */
	if (!resolve(handle, (void **)&api.start_daemon, "MHD_start_daemon") ||
	    !resolve(handle, (void **)&api.stop_daemon, "MHD_stop_daemon") ||
	    !resolve(handle, (void **)&api.create_response_from_buffer,
		     "MHD_create_response_from_buffer") ||
	    !resolve(handle, (void **)&api.add_response_header, "MHD_add_response_header") ||
	    !resolve(handle, (void **)&api.queue_response, "MHD_queue_response") ||
	    !resolve(handle, (void **)&api.destroy_response, "MHD_destroy_response")) {
		dlclose(handle);
		return NULL;
	}
	loaded = true;
	return &api;
}
