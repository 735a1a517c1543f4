/* SPDX-License-Identifier: MIT */
#include "xml.h"

#include <expat.h>
#include <limits.h>

#include "log.h"

/* Every node, name and text lives in a chain of blocks, released together. */
typedef struct ArenaBlock ArenaBlock;
struct ArenaBlock {
        ArenaBlock *prev;
        size_t used, size;
        _Alignas(max_align_t) unsigned char data[];
};

#define ARENA_BLOCK_MIN (64u * 1024)

struct XmlDoc {
        ArenaBlock *arena;
        XmlNode *root;
        size_t n_elements;
};

/* Element names repeat: each distinct one is stored once (up to NAME_SLOTS/2 of them;
 * past that, names are simply copied). */
#define NAME_SLOTS 512u

typedef struct Builder {
        XML_Parser parser;
        const char *names[NAME_SLOTS];
        unsigned n_names;
        XmlDoc *doc;
        XmlNode *current;
        XmlNode *last_child[XML_MAX_DEPTH + 1]; /* per open depth: where to append */
        unsigned depth;
        /* Character data of all open elements, innermost last; each open element
         * remembers where its own data starts. */
        char *text;
        size_t text_len, text_alloc;
        size_t text_start[XML_MAX_DEPTH + 1];
        int error;
} Builder;

static void *arena_alloc(XmlDoc *d, size_t size) {
        ArenaBlock *b = d->arena;
        size_t need = (size + 7) & ~(size_t) 7;

        if (!b || b->size - b->used < need) {
                size_t bs = need > ARENA_BLOCK_MIN ? need : ARENA_BLOCK_MIN;
                /* Grow blocks with the document so big answers take few mallocs. */
                if (b && b->size * 2 > bs && b->size < 8u * 1024 * 1024)
                        bs = b->size * 2;
                ArenaBlock *nb = malloc(sizeof(ArenaBlock) + bs);
                if (!nb)
                        return NULL;
                nb->prev = b;
                nb->used = 0;
                nb->size = bs;
                d->arena = b = nb;
        }
        void *p = b->data + b->used;
        b->used += need;
        return p;
}

static char *arena_strndup(XmlDoc *d, const char *s, size_t n) {
        char *p = arena_alloc(d, n + 1);
        if (!p)
                return NULL;
        memcpy(p, s, n);
        p[n] = 0;
        return p;
}

XmlDoc *xml_free(XmlDoc *d) {
        if (!d)
                return NULL;
        while (d->arena) {
                ArenaBlock *p = d->arena->prev;
                free(d->arena);
                d->arena = p;
        }
        free(d);
        return NULL;
}

static bool is_blank(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
                        return false;
        return true;
}

static const char *intern(Builder *b, const char *name) {
        size_t l = 0;
        uint32_t h = 2166136261u; /* FNV-1a */

        for (const unsigned char *p = (const unsigned char *) name; *p; p++, l++)
                h = (h ^ *p) * 16777619u;
        if (b->n_names >= NAME_SLOTS / 2)
                return arena_strndup(b->doc, name, l);
        for (unsigned i = h & (NAME_SLOTS - 1);; i = (i + 1) & (NAME_SLOTS - 1)) {
                if (!b->names[i]) {
                        b->names[i] = arena_strndup(b->doc, name, l);
                        if (b->names[i])
                                b->n_names++;
                        return b->names[i];
                }
                if (streq(b->names[i], name))
                        return b->names[i];
        }
}

static void builder_fail(Builder *b, int error) {
        if (b->error == 0)
                b->error = error;
        (void) XML_StopParser(b->parser, XML_FALSE);
}

static void XMLCALL on_start(void *userdata, const XML_Char *name, const XML_Char **attrs) {
        Builder *b = userdata;
        XmlNode *n;

        (void) attrs;
        if (b->error)
                return;
        if (b->depth >= XML_MAX_DEPTH || b->doc->n_elements >= XML_MAX_ELEMENTS) {
                builder_fail(b, -E2BIG);
                return;
        }

        n = arena_alloc(b->doc, sizeof(XmlNode));
        if (!n) {
                builder_fail(b, -ENOMEM);
                return;
        }
        *n = (XmlNode) { .name = intern(b, name), .text = "", .parent = b->current };
        if (!n->name) {
                builder_fail(b, -ENOMEM);
                return;
        }

        /* Indentation before the first child is not the parent's content. */
        if (b->current && !b->current->first_child && b->text_len > b->text_start[b->depth] &&
            is_blank(b->text + b->text_start[b->depth], b->text_len - b->text_start[b->depth]))
                b->text_len = b->text_start[b->depth];

        if (!b->current)
                b->doc->root = n;
        else if (b->last_child[b->depth])
                b->last_child[b->depth]->next = n;
        else
                b->current->first_child = n;
        if (b->current)
                b->last_child[b->depth] = n;

        b->doc->n_elements++;
        b->depth++;
        b->last_child[b->depth] = NULL;
        b->text_start[b->depth] = b->text_len;
        b->current = n;
}

static void XMLCALL on_end(void *userdata, const XML_Char *name) {
        Builder *b = userdata;
        XmlNode *n = b->current;
        size_t start;

        (void) name;
        if (b->error || !n)
                return;
        start = b->text_start[b->depth];
        /* Indentation between child elements is not content. */
        if (n->first_child && b->text_len > start && is_blank(b->text + start, b->text_len - start))
                b->text_len = start;
        if (b->text_len > start) {
                n->text_len = b->text_len - start;
                n->text = arena_strndup(b->doc, b->text + start, n->text_len);
                if (!n->text) {
                        builder_fail(b, -ENOMEM);
                        return;
                }
                b->text_len = start;
        }
        b->depth--;
        b->current = n->parent;
}

static void XMLCALL on_text(void *userdata, const XML_Char *s, int len) {
        Builder *b = userdata;

        if (b->error || !b->current || len <= 0)
                return;
        /* Indentation after a child element: not content, not even worth a copy. */
        if (b->last_child[b->depth] && is_blank(s, (size_t) len))
                return;
        if (b->text_len + (size_t) len + 1 > b->text_alloc) {
                size_t na = (b->text_len + (size_t) len + 1) * 2;
                char *nt;
                if (na < 4096)
                        na = 4096;
                nt = realloc(b->text, na);
                if (!nt) {
                        builder_fail(b, -ENOMEM);
                        return;
                }
                b->text = nt;
                b->text_alloc = na;
        }
        memcpy(b->text + b->text_len, s, (size_t) len);
        b->text_len += (size_t) len;
}

/* No DOCTYPE, hence no entity declarations: nothing to expand, nothing to fetch. */
static void XMLCALL on_doctype(void *userdata, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset) {
        (void) name, (void) sysid, (void) pubid, (void) has_internal_subset;
        builder_fail(userdata, -EBADMSG);
}

static void XMLCALL on_entity_decl(void *userdata, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_length, const XML_Char *base,
                                   const XML_Char *system_id, const XML_Char *public_id,
                                   const XML_Char *notation) {
        (void) name, (void) is_param, (void) value, (void) value_length, (void) base;
        (void) system_id, (void) public_id, (void) notation;
        builder_fail(userdata, -EBADMSG);
}

int xml_parse(const char *data, size_t size, XmlDoc **ret) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        Builder b = {};
        enum XML_Status st;
        int r = 0;

        if (size > XML_MAX_INPUT || size > INT_MAX)
                return -E2BIG;
        if (size == 0)
                return -EBADMSG;

        d = calloc(1, sizeof(XmlDoc));
        if (!d)
                return -ENOMEM;
        b.doc = d;
        b.parser = XML_ParserCreate(NULL);
        if (!b.parser)
                return -ENOMEM;

        XML_SetUserData(b.parser, &b);
        XML_SetElementHandler(b.parser, on_start, on_end);
        XML_SetCharacterDataHandler(b.parser, on_text);
        XML_SetStartDoctypeDeclHandler(b.parser, on_doctype);
        XML_SetEntityDeclHandler(b.parser, on_entity_decl);
        (void) XML_SetParamEntityParsing(b.parser, XML_PARAM_ENTITY_PARSING_NEVER);

        st = XML_Parse(b.parser, data, (int) size, XML_TRUE);
        if (b.error)
                r = b.error;
        else if (st != XML_STATUS_OK)
                r = XML_GetErrorCode(b.parser) == XML_ERROR_NO_MEMORY ? -ENOMEM : -EBADMSG;
        else if (!d->root)
                r = -EBADMSG;
        if (r < 0)
                log_debug("XML answer rejected at line %lu column %lu: %s", (unsigned long) XML_GetCurrentLineNumber(b.parser),
                          (unsigned long) XML_GetCurrentColumnNumber(b.parser),
                          b.error == -E2BIG     ? "too deep or too many elements"
                          : b.error == -EBADMSG ? "DOCTYPE or entity declaration refused"
                                                : XML_ErrorString(XML_GetErrorCode(b.parser)));

        XML_ParserFree(b.parser);
        free(b.text);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(d);
        return 0;
}

const XmlNode *xml_root(const XmlDoc *d) {
        return d ? d->root : NULL;
}

size_t xml_count(const XmlDoc *d) {
        return d ? d->n_elements : 0;
}

const XmlNode *xml_next(const XmlNode *n, const char *name) {
        for (n = n ? n->next : NULL; n; n = n->next)
                if (!name || streq(n->name, name))
                        return n;
        return NULL;
}

const XmlNode *xml_child(const XmlNode *n, const char *name) {
        const XmlNode *c = n ? n->first_child : NULL;
        if (!c || !name || streq(c->name, name))
                return c;
        return xml_next(c, name);
}

const XmlNode *xml_path(const XmlNode *n, const char *path) {
        char seg[128];

        while (n && path && *path) {
                size_t l = strcspn(path, "/");
                if (l == 0 || l >= sizeof(seg))
                        return NULL;
                memcpy(seg, path, l);
                seg[l] = 0;
                n = xml_child(n, seg);
                path += l;
                if (*path == '/')
                        path++;
        }
        return n;
}

const char *xml_text(const XmlNode *n, const char *path) {
        n = xml_path(n, path);
        return n ? n->text : NULL;
}
