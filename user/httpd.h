/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libmicrohttpd, loaded only when a command serves HTTP. Linked into the
 * binary, it and the TLS stack it needs made every devledger command slower
 * to start (devledger --version, perf stat -r 20: 19.1 against 14.6 ms on an
 * idle machine, up to 28 ms more on a loaded one), which trace's time to
 * attached cannot spare; dlopen makes serve alone pay it.
 */
#ifndef DEVLEDGER_HTTPD_H
#define DEVLEDGER_HTTPD_H

#include <microhttpd.h>

/* The part of libmicrohttpd's API serve uses, by the library's own types. */
struct httpd_api {
	struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port,
					   MHD_AcceptPolicyCallback apc, void *apc_cls,
					   MHD_AccessHandlerCallback dh, void *dh_cls, ...);
	void (*stop_daemon)(struct MHD_Daemon *daemon);
	struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buffer,
							    enum MHD_ResponseMemoryMode mode);
	enum MHD_Result (*add_response_header)(struct MHD_Response *response, const char *header,
					       const char *content);
	enum MHD_Result (*queue_response)(struct MHD_Connection *connection,
					  unsigned int status_code, struct MHD_Response *response);
	void (*destroy_response)(struct MHD_Response *response);
};

/*
 * Load it once (later calls return the same). NULL, with one line on stderr
 * naming the library and what to install, when it cannot be loaded.
 */
const struct httpd_api *httpd__load(void);

#endif /* DEVLEDGER_HTTPD_H */
