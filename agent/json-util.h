/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * json-c helpers shared by the Docker client, the engine's daemon.json editor and the
 * credential parser: cleanup functions, one strict-enough parse entry point, path lookup,
 * checked builders (json-c's add/append can fail on allocation: a request body that
 * silently lost a member must never be sent), and wiping of secret strings.
 */

#include <json-c/json.h>

#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free);

/*
 * Exactly one JSON value in text[0, size), only whitespace after it. depth 0: 64.
 * flags: json_tokener flags (JSON_TOKENER_STRICT, JSON_TOKENER_VALIDATE_UTF8).
 * -EBADMSG for anything else, -ENOMEM, -EMSGSIZE (size > INT32_MAX).
 */
int json_parse_text(const char *text, size_t size, int depth, int flags, json_object **ret);

/* True if s is NULL or only ASCII whitespace: "no JSON document at all". */
bool json_text_blank(const char *s);

/* Follow a NULL-terminated path of object keys; NULL if any step is missing. */
json_object *jpath(json_object *o, ...);
#define JPATH(o, ...) jpath(o, __VA_ARGS__, (const char *) NULL)

/* The string value of o, NULL if o is not a string. */
const char *jstr(json_object *o);

/* Copy a string value (missing or not a string: NULL) into *dst (freeing the old one). */
int jdup(json_object *o, char **dst);

/* Checked builders: -ENOMEM if anything could not be allocated or added. value NULL for
 * json_add_string() adds JSON null. json_add() takes v (also on failure). */
int json_add(json_object *obj, const char *key, json_object *v);
int json_add_string(json_object *obj, const char *key, const char *value);
int json_add_bool(json_object *obj, const char *key, bool value);
int json_append(json_object *arr, json_object *v);
int json_append_string(json_object *arr, const char *value);

/*
 * s as a JSON string literal (quotes, backslash escapes, \u00XX for control characters),
 * newly allocated; NULL on allocation failure. For request bodies that must be complete
 * or not sent at all: json-c's serializer does not report allocation failures on the way
 * (an out-of-memory can drop a comma or a string's content), and its parser is not safe
 * against them either, so a secret-carrying body is written by hand with this.
 */
char *json_quote(const char *s);

/* Overwrite a string value's bytes in place (a secret json-c holds a copy of). */
void json_string_erase(json_object *s);
