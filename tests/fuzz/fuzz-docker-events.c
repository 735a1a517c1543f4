/* SPDX-License-Identifier: MIT */
/*
 * The engine's /events answer: any bytes as the HTTP response, fed to the stream parser
 * in pieces (the first byte picks the piece size); every body line goes through the
 * event parser. The same bytes also go to the /info and /nodes answer parsers.
 */
#include <assert.h>

#include "docker-events.h"
#include "docker.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_line(const char *line, size_t size, void *userdata) {
        DockerEvent ev;
        size_t *n = userdata;

        assert(size > 0 && size <= DOCKER_STREAM_LINE_MAX);
        assert(memchr(line, '\n', size) == NULL);
        if (docker_event_parse(line, size, &ev) >= 0) {
                assert(strlen(ev.action) < sizeof(ev.action));
                assert(strlen(ev.actor_id) < sizeof(ev.actor_id));
        }
        (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DockerStreamParser p = {};
        size_t piece, lines = 0;
        int r = 0;

        log_set_max_level(-1);
        if (size == 0)
                return 0;
        piece = (size_t) data[0] % 17 + 1;
        data++;
        size--;
        for (size_t off = 0; off < size && r >= 0; off += piece)
                r = docker_stream_feed(&p, (const char *) data + off, size - off < piece ? size - off : piece,
                                       on_line, &lines);
        assert(r <= 0);
        docker_stream_parser_done(&p);

        _cleanup_(freep) char *text = strndup((const char *) data, size);
        if (text) {
                DockerInfo i = {};
                DockerNode *n = NULL;
                size_t count = 0;
                if (docker_parse_info(text, &i) >= 0)
                        docker_info_done(&i);
                if (docker_parse_nodes(text, &n, &count) >= 0)
                        docker_nodes_free(n, count);
        }
        return 0;
}
