/* SPDX-License-Identifier: MIT */
#include "docker-events.h"

#include <ctype.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "docker.h"
#include "json-util.h"
#include "log.h"

#define DK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DK_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- events: line parser ------------------------------------------------------------ */

static void copy_field(char *dst, size_t size, const char *src) {
        if (!src) {
                *dst = 0;
                return;
        }
        snprintf(dst, size, "%s", src);
}

int docker_event_parse(const char *line, size_t size, DockerEvent *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        DockerEvent ev = {};
        const char *type, *action;
        json_object *attrs, *t;
        int r;

        r = json_parse_text(line, size, 0, 0, &o);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        /* "Type"/"Action" since API 1.22; "status" alone is the container-era format */
        type = jstr(JPATH(o, "Type"));
        action = jstr(JPATH(o, "Action")) ?: jstr(JPATH(o, "status"));
        if (!type || !action)
                return -EBADMSG;
        ev.type = streq(type, "node") ? DOCKER_EVENT_NODE :
                  streq(type, "daemon") ? DOCKER_EVENT_DAEMON : DOCKER_EVENT_OTHER;
        copy_field(ev.action, sizeof(ev.action), action);
        copy_field(ev.actor_id, sizeof(ev.actor_id), jstr(JPATH(o, "Actor", "ID")));
        attrs = JPATH(o, "Actor", "Attributes");
        copy_field(ev.leader_new, sizeof(ev.leader_new), jstr(JPATH(attrs, "leader.new")));
        copy_field(ev.state_new, sizeof(ev.state_new), jstr(JPATH(attrs, "state.new")));
        copy_field(ev.reachability_new, sizeof(ev.reachability_new), jstr(JPATH(attrs, "reachability.new")));
        copy_field(ev.role_new, sizeof(ev.role_new), jstr(JPATH(attrs, "role.new")));
        t = JPATH(o, "timeNano");
        if (json_object_is_type(t, json_type_int) && json_object_get_int64(t) > 0)
                ev.time_nano = (uint64_t) json_object_get_int64(t);
        *ret = ev;
        return 0;
}

/* ---- events: HTTP stream parser ----------------------------------------------------- */

static int buf_append(char **buf, size_t *size, size_t *alloc, const char *data, size_t n) {
        if (*size + n > DOCKER_STREAM_LINE_MAX)
                return -EBADMSG;
        if (*size + n + 1 > *alloc) {
                size_t a = DK_MAX(*alloc * 2, *size + n + 1);
                char *b;
                a = DK_MAX(a, (size_t) 256);
                b = realloc(*buf, a);
                if (!b)
                        return -ENOMEM;
                *buf = b;
                *alloc = a;
        }
        memcpy(*buf + *size, data, n);
        *size += n;
        (*buf)[*size] = 0;
        return 0;
}

bool docker_stream_headers_done(const DockerStreamParser *p) {
        return p->state >= STREAM_CHUNK_SIZE;
}

void docker_stream_parser_done(DockerStreamParser *p) {
        free(p->line);
        free(p->body_line);
        *p = (DockerStreamParser){};
}

/* Body bytes: split into lines. */
static int stream_body(DockerStreamParser *p, const char *data, size_t n, DockerLineHandler on_line,
                       void *userdata) {
        while (n > 0) {
                const char *nl = memchr(data, '\n', n);
                size_t k = nl ? (size_t) (nl - data) : n;
                int r = buf_append(&p->body_line, &p->body_size, &p->body_alloc, data, k);
                if (r < 0)
                        return r;
                if (!nl)
                        break;
                if (p->body_size > 0 && p->body_line[p->body_size - 1] == '\r')
                        p->body_line[--p->body_size] = 0;
                if (p->body_size > 0)
                        on_line(p->body_line, p->body_size, userdata);
                p->body_size = 0;
                data += k + 1;
                n -= k + 1;
        }
        return 0;
}

/* One complete header-area line (status, header, chunk size, trailer), CR stripped. */
static int stream_line(DockerStreamParser *p, char *l) {
        const char *v;

        switch (p->state) {
        case STREAM_STATUS_LINE: {
                int n = -1;
                long st;
                if (sscanf(l, "HTTP/1.%*1[01] %3ld%n", &st, &n) != 1 || n < 0 || (l[n] && l[n] != ' '))
                        return -EBADMSG;
                p->status = st;
                if (st != 200)
                        return -EIO;
                p->state = STREAM_HEADERS;
                return 0;
        }
        case STREAM_HEADERS:
                if (!*l) {
                        p->state = p->chunked ? STREAM_CHUNK_SIZE : STREAM_BODY;
                        return 0;
                }
                if (strncasecmp(l, "Transfer-Encoding:", 18) == 0) {
                        v = l + 18;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        if (strcasecmp(v, "chunked") == 0)
                                p->chunked = true;
                } else if (!strchr(l, ':'))
                        return -EBADMSG;
                return 0;
        case STREAM_CHUNK_SIZE: {
                char *end;
                unsigned long long sz;
                if (!isxdigit((unsigned char) *l))
                        return -EBADMSG;
                errno = 0;
                sz = strtoull(l, &end, 16);
                if (errno != 0 || (*end && *end != ';' && *end != ' ') || sz > (1ULL << 32))
                        return -EBADMSG;
                p->chunk_left = sz;
                p->state = sz == 0 ? STREAM_CHUNK_TRAILER : STREAM_CHUNK_DATA;
                return 0;
        }
        case STREAM_CHUNK_END:
                if (*l)
                        return -EBADMSG;
                p->state = STREAM_CHUNK_SIZE;
                return 0;
        case STREAM_CHUNK_TRAILER:
                if (!*l) {
                        p->state = STREAM_DONE;
                        return -EPIPE;
                }
                return 0;
        default:
                return -EBADMSG;
        }
}

int docker_stream_feed(DockerStreamParser *p, const char *data, size_t size,
                       DockerLineHandler on_line, void *userdata) {
        int r;

        while (size > 0) {
                if (p->state == STREAM_DONE)
                        return -EPIPE;
                if (p->state == STREAM_BODY)
                        return stream_body(p, data, size, on_line, userdata);
                if (p->state == STREAM_CHUNK_DATA) {
                        size_t k = (size_t) DK_MIN((uint64_t) size, p->chunk_left);
                        r = stream_body(p, data, k, on_line, userdata);
                        if (r < 0)
                                return r;
                        p->chunk_left -= k;
                        data += k;
                        size -= k;
                        if (p->chunk_left == 0)
                                p->state = STREAM_CHUNK_END;
                        continue;
                }

                /* line-oriented states */
                const char *nl = memchr(data, '\n', size);
                size_t k = nl ? (size_t) (nl - data) : size;
                r = buf_append(&p->line, &p->line_size, &p->line_alloc, data, k);
                if (r < 0)
                        return r;
                if (!nl)
                        return 0;
                data += k + 1;
                size -= k + 1;
                if (p->line_size > 0 && p->line[p->line_size - 1] == '\r')
                        p->line[--p->line_size] = 0;
                if (!p->line)
                        r = stream_line(p, (char[]){ 0 });
                else
                        r = stream_line(p, p->line);
                p->line_size = 0;
                if (p->line)
                        p->line[0] = 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- events: the connection ---------------------------------------------------------- */

struct DockerEvents {
        sd_event *event;
        sd_event_source *io, *timer;
        int fd;
        bool connected;
        bool opened;
        bool closed;
        char *request;
        size_t request_size, request_sent;
        DockerStreamParser parser;
        void (*on_open)(DockerEvents *s, void *userdata);
        DockerEventHandler on_event;
        DockerEventsClosed on_closed;
        void *userdata;
};

DockerEvents *docker_events_free(DockerEvents *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        sd_event_source_disable_unref(s->timer);
        if (s->fd >= 0)
                close(s->fd);
        free(s->request);
        docker_stream_parser_done(&s->parser);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

static void events_close(DockerEvents *s, int error, const char *message) {
        if (s->closed)
                return;
        s->closed = true;
        s->io = sd_event_source_disable_unref(s->io);
        s->timer = sd_event_source_disable_unref(s->timer);
        if (s->fd >= 0) {
                close(s->fd);
                s->fd = -1;
        }
        log_debug("Docker events stream closed: %s", message);
        if (s->on_closed)
                s->on_closed(s, error, message, s->userdata);
}

/* The answer's headers are in: the subscription is live. */
static void events_opened(DockerEvents *s) {
        if (s->opened || s->closed)
                return;
        s->opened = true;
        s->timer = sd_event_source_disable_unref(s->timer);
        if (s->on_open)
                s->on_open(s, s->userdata);
}

static void events_line(const char *line, size_t size, void *userdata) {
        DockerEvents *s = userdata;
        DockerEvent ev;

        events_opened(s); /* body lines come after the headers */
        if (s->closed)
                return;
        if (docker_event_parse(line, size, &ev) < 0) {
                log_debug("Ignoring an events line that is not an event (%zu bytes).", size);
                return;
        }
        log_debug("Docker event: %s %s %s%s%s%s%s", ev.type == DOCKER_EVENT_NODE ? "node" :
                  ev.type == DOCKER_EVENT_DAEMON ? "daemon" : "other", ev.action, ev.actor_id,
                  *ev.state_new ? " state=" : "", ev.state_new,
                  *ev.leader_new ? " leader=" : "", ev.leader_new);
        if (s->on_event)
                s->on_event(s, &ev, s->userdata);
}

static int events_on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        DockerEvents *s = userdata;
        char buf[4096];
        ssize_t n;
        int r;

        if (!s->connected) {
                int err = 0;
                socklen_t len = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (err != 0) {
                        events_close(s, -err, strerror(err));
                        return 0;
                }
                s->connected = true;
        }

        if (s->request_sent < s->request_size) {
                n = send(fd, s->request + s->request_sent, s->request_size - s->request_sent,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        events_close(s, -errno, strerror(errno));
                        return 0;
                }
                s->request_sent += (size_t) n;
                if (s->request_sent < s->request_size)
                        return 0;
                (void) sd_event_source_set_io_events(src, EPOLLIN | EPOLLRDHUP);
                return 0;
        }

        /* Read what is there; bounded per wakeup so one chatty engine cannot starve us. */
        for (int i = 0; i < 16; i++) {
                n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        events_close(s, -errno, strerror(errno));
                        return 0;
                }
                if (n == 0) {
                        events_close(s, -ECONNRESET, "engine closed the events stream");
                        return 0;
                }
                r = docker_stream_feed(&s->parser, buf, (size_t) n, events_line, s);
                if (s->closed)
                        return 0;
                if (r == -EIO) {
                        char m[64];
                        snprintf(m, sizeof(m), "engine answered HTTP %ld to /events", s->parser.status);
                        events_close(s, r, m);
                        return 0;
                }
                if (r == -EPIPE) {
                        events_close(s, -ECONNRESET, "engine ended the events stream");
                        return 0;
                }
                if (r < 0) {
                        events_close(s, r, "engine answered /events with something that is not HTTP");
                        return 0;
                }
                if (docker_stream_headers_done(&s->parser)) {
                        events_opened(s);
                        if (s->closed)
                                return 0;
                }
        }
        return 0;
}

static int events_on_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        DockerEvents *s = userdata;
        events_close(s, -ETIMEDOUT, "engine did not answer the events subscription in time");
        return 0;
}

int docker_events_new(sd_event *event, const char *socket_path, const char *api_version,
                      uint64_t header_timeout_usec,
                      void (*on_open)(DockerEvents *s, void *userdata),
                      DockerEventHandler on_event, DockerEventsClosed on_closed, void *userdata,
                      DockerEvents **ret) {
        _cleanup_(docker_events_freep) DockerEvents *s = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int r;

        if (!event || isempty(socket_path))
                return -EINVAL;
        if (strlen(socket_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, socket_path, strlen(socket_path));

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->fd = -1;
        s->event = sd_event_ref(event);
        s->on_open = on_open;
        s->on_event = on_event;
        s->on_closed = on_closed;
        s->userdata = userdata;

        /* filters={"type":["node","daemon"]} */
        r = asprintf(&s->request,
                     "GET /v%s/events?filters=%%7B%%22type%%22%%3A%%5B%%22node%%22%%2C%%22daemon%%22%%5D%%7D HTTP/1.1\r\n"
                     "Host: docker\r\n"
                     "User-Agent: swarmkeeper\r\n"
                     "Accept: application/json\r\n"
                     "\r\n",
                     isempty(api_version) ? DOCKER_API_VERSION_MAX : api_version);
        if (r < 0) {
                s->request = NULL;
                return -ENOMEM;
        }
        s->request_size = (size_t) r;

        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (s->fd < 0)
                return -errno;
        if (connect(s->fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                if (errno != EINPROGRESS && errno != EAGAIN)
                        return -errno;
        } else
                s->connected = true;

        r = sd_event_add_io(event, &s->io, s->fd, EPOLLOUT, events_on_io, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(s->io, "docker-events");
        if (header_timeout_usec > 0) {
                r = sd_event_add_time(event, &s->timer, CLOCK_MONOTONIC,
                                      now_usec(CLOCK_MONOTONIC) + header_timeout_usec, 0, events_on_timeout, s);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}
