/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * devledger report SUMMARY.json -o FILE.html: the summary as one
 * self-contained page (its CSS, script and pictures inline; no network),
 * which draws live bytes over time per device and type, the per-device
 * tables, untracked frees by reason, leaks by site, growth, snapshots and
 * the runs of one command compared.
 */
#ifndef DEVLEDGER_HTMLREPORT_H
#define DEVLEDGER_HTMLREPORT_H

/* 0, 1 when the page could not be written, 2 for a summary that cannot be read (said on stderr). */
int htmlreport__run(const char *summary_path, const char *html_path);

#endif /* DEVLEDGER_HTMLREPORT_H */
