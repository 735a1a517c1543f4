/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The engine's /events stream (DockerEvents), read without blocking inside sd-event over
 * a plain non-blocking unix-socket connection: HTTP/1.1 headers, then a chunked body of
 * newline-delimited JSON objects. The parsers are pure functions so that tests and the
 * fuzzer reach them without an engine.
 */

#include <systemd/sd-event.h>

#include "util.h"

/* ---- /events ---------------------------------------------------------------------- */

typedef enum DockerEventType {
        DOCKER_EVENT_OTHER,
        DOCKER_EVENT_NODE,
        DOCKER_EVENT_DAEMON,
} DockerEventType;

typedef struct DockerEvent {
        DockerEventType type;
        char action[32];          /* "create", "update", "remove", "reload", … */
        char actor_id[96];        /* node ID for node events */
        /* Changes in a node update ("" if not part of this event). */
        char leader_new[8];       /* "true" | "false" */
        char state_new[16];
        char reachability_new[16];
        char role_new[16];
        uint64_t time_nano;
} DockerEvent;

/* One line of the events stream → event. -EBADMSG if it is not an event object. */
int docker_event_parse(const char *line, size_t size, DockerEvent *ret);

/* HTTP/1.1 response reader for the stream: status line, headers, chunked or plain body,
 * split into lines. */
typedef struct DockerStreamParser {
        enum {
                STREAM_STATUS_LINE,
                STREAM_HEADERS,
                STREAM_CHUNK_SIZE,
                STREAM_CHUNK_DATA,
                STREAM_CHUNK_END,
                STREAM_CHUNK_TRAILER,
                STREAM_BODY,
                STREAM_DONE,
        } state;
        bool chunked;
        long status;
        uint64_t chunk_left;
        char *line;               /* the line being collected */
        size_t line_size, line_alloc;
        char *body_line;          /* the body line being collected */
        size_t body_size, body_alloc;
} DockerStreamParser;

#define DOCKER_STREAM_LINE_MAX (64u * 1024)

typedef void (*DockerLineHandler)(const char *line, size_t size, void *userdata);

/* Feed bytes. Calls on_line for every complete body line (without the newline; empty
 * lines skipped). Returns 0; -EBADMSG on a malformed response (a header line or body
 * line over DOCKER_STREAM_LINE_MAX, bad chunk size), -EIO for a non-200 status,
 * -EPIPE when a chunked body ended. */
int docker_stream_feed(DockerStreamParser *p, const char *data, size_t size,
                       DockerLineHandler on_line, void *userdata);
bool docker_stream_headers_done(const DockerStreamParser *p);
void docker_stream_parser_done(DockerStreamParser *p);

typedef struct DockerEvents DockerEvents;
typedef void (*DockerEventHandler)(DockerEvents *s, const DockerEvent *ev, void *userdata);
/* The stream is gone (error < 0: why; the text is in *message); the object stays until freed. */
typedef void (*DockerEventsClosed)(DockerEvents *s, int error, const char *message, void *userdata);

/*
 * Subscribe to node and daemon events: connect (non-blocking) to socket, send the
 * request, read inside `event`. on_open is called when the answer's headers arrived
 * (the subscription is live), on_event per event, on_closed once when the stream ends
 * or fails (also when no headers arrive within header_timeout_usec).
 */
int docker_events_new(sd_event *event, const char *socket, const char *api_version,
                      uint64_t header_timeout_usec,
                      void (*on_open)(DockerEvents *s, void *userdata),
                      DockerEventHandler on_event, DockerEventsClosed on_closed, void *userdata,
                      DockerEvents **ret);
DockerEvents *docker_events_free(DockerEvents *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(DockerEvents *, docker_events_free);
