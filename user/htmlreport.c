/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The page is user/htmlreport.html, made into a C string at build time
 * (htmlreport_page.h); the summary goes where it says @@SUMMARY@@, as the
 * text of a <script type="application/json">.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "htmlreport.h"
#include "htmlreport_page.h"
#include "summary.h"

#define SCHEMA	    "devledger.summary.v1"
#define PLACEHOLDER "@@SUMMARY@@"

/*
 * JSON inside a <script> element ends at the first "</script": every '<'
 * becomes \u003c, which JSON reads back as '<' (it only occurs in strings).
 */
static char *script_safe(const char *json)
{
	size_t len = strlen(json), lt = 0;
	char *out, *o;

	for (const char *c = json; *c; c++)
		lt += *c == '<';
	out = malloc(len + lt * 5 + 1);
	if (!out)
		return NULL;
	o = out;
	for (const char *c = json; *c; c++) {
		if (*c == '<') {
			memcpy(o, "\\u003c", 6);
			o += 6;
		} else {
			*o++ = *c;
		}
	}
	*o = '\0';
	return out;
}

int htmlreport__run(const char *summary_path, const char *html_path)
{
	const char *at = strstr(htmlreport_page, PLACEHOLDER), *schema;
	struct json_object *root, *v;
	char *json = NULL, *page = NULL;
	size_t head, tail, len;
	int err;

	root = json_object_from_file(summary_path);
	if (!root) {
		fprintf(stderr, "devledger: report: %s: %s\n", summary_path,
			json_util_get_last_err() ? "cannot read it as JSON" : "cannot read it");
		return 2;
	}
	schema = json_object_object_get_ex(root, "schema", &v) ? json_object_get_string(v) : NULL;
	if (!schema || strcmp(schema, SCHEMA) ||
	    !json_object_object_get_ex(root, "processes", &v)) {
		fprintf(stderr,
			"devledger: report: %s: not a devledger summary (schema " SCHEMA ")\n",
			summary_path);
		json_object_put(root);
		return 2;
	}
	json = script_safe(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	if (!json || !at) {
		free(json);
		fprintf(stderr, "devledger: report: %s\n", strerror(ENOMEM));
		return 1;
	}
	head = (size_t)(at - htmlreport_page);
	tail = strlen(at + strlen(PLACEHOLDER));
	len = strlen(json);
	page = malloc(head + len + tail + 1);
	if (!page) {
		free(json);
		fprintf(stderr, "devledger: report: %s\n", strerror(ENOMEM));
		return 1;
	}
	memcpy(page, htmlreport_page, head);
	memcpy(page + head, json, len);
	memcpy(page + head + len, at + strlen(PLACEHOLDER), tail + 1);
	err = summary__write_text(html_path, page);
	free(json);
	free(page);
	if (err) {
		fprintf(stderr, "devledger: report: writing %s: %s\n", html_path, strerror(-err));
		return 1;
	}
	return 0;
}
