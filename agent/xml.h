/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * EC2 answers are small XML documents. This parses one with expat into a tiny,
 * read-only element tree (all of it in one arena, freed at once) and offers a few
 * lookups by element name. No namespaces (EC2 uses one default namespace), no
 * attributes (EC2 carries everything in elements).
 *
 * Why expat and not libxml2: no further dependency (libxml2 pulls in ICU on
 * Debian), a streaming parser with a small footprint, and the hardening is ours
 * to decide: any DOCTYPE is refused, so no entity can be declared, let alone
 * expanded (billion laughs, external entities); nesting depth and element count
 * are capped.
 */

#include "util.h"

#define XML_MAX_DEPTH 64
#define XML_MAX_ELEMENTS (4u * 1024 * 1024)
#define XML_MAX_INPUT (64u * 1024 * 1024)

typedef struct XmlNode XmlNode;
struct XmlNode {
        const char *name;  /* element name as written (prefix included, if any) */
        const char *text;  /* character data directly inside this element, "" if none */
        size_t text_len;
        XmlNode *parent;
        XmlNode *first_child;
        XmlNode *next; /* next sibling */
};

typedef struct XmlDoc XmlDoc;

/*
 * Parse data[0..size) into *ret. Returns 0, -EBADMSG (not well-formed, truncated,
 * DOCTYPE present, empty), -E2BIG (too deep, too many elements, too large) or
 * -ENOMEM. The expat reason and position go to the debug log.
 */
int xml_parse(const char *data, size_t size, XmlDoc **ret);
XmlDoc *xml_free(XmlDoc *d);
static inline void xml_freep(XmlDoc **d) {
        if (*d)
                xml_free(*d);
}

/* The document element. */
const XmlNode *xml_root(const XmlDoc *d);

/* First child element named `name` (NULL: any), or NULL. */
const XmlNode *xml_child(const XmlNode *n, const char *name);
/* Next sibling after n named `name` (NULL: any), or NULL. */
const XmlNode *xml_next(const XmlNode *n, const char *name);
/* Follow a "/"-separated path of child names from n ("a/b/c"); NULL if absent. */
const XmlNode *xml_path(const XmlNode *n, const char *path);
/* Text of the element at `path` below n, or NULL if there is no such element. */
const char *xml_text(const XmlNode *n, const char *path);
/* Number of elements in the document (for tests and benchmarks). */
size_t xml_count(const XmlDoc *d);

#define XML_FOREACH_CHILD(c, n, name) \
        for (const XmlNode *c = xml_child((n), (name)); c; c = xml_next(c, (name)))
