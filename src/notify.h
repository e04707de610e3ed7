/* SPDX-License-Identifier: MIT */
/*
 * notify.h - telling a service manager (systemd's Type=notify) how the
 * node is doing, without libsystemd: the datagram protocol of sd_notify(3)
 * on the socket named by $NOTIFY_SOCKET.  Without that variable every
 * call does nothing, so a node run by hand, by `kiln up` or in a
 * container behaves as before.
 */
#ifndef KILN_NOTIFY_H
#define KILN_NOTIFY_H

/* Send STATE ("READY=1", "STOPPING=1", "RELOADING=1\nMONOTONIC_USEC=N",
 * lines "KEY=VALUE").  0, or a negative errno (not worth more than a
 * debug line: the manager may simply not listen). */
int notify_send(const char *state);

/* "READY=1" with a STATUS= line saying STATUS (may be NULL). */
void notify_ready(const char *status);
/* "STOPPING=1". */
void notify_stopping(void);
/* "RELOADING=1" (with MONOTONIC_USEC, as Type=notify-reload wants);
 * notify_ready() ends the reload. */
void notify_reloading(void);

/* "WATCHDOG=1", at most once per half of $WATCHDOG_USEC, and only if
 * the manager asked for it (WatchdogSec=) of this process.  Call it often
 * from the loop whose progress proves the node alive, from that one
 * thread only. */
void notify_watchdog(void);

#endif
