/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one place that builds the chain metadata service → credentials → EC2 client, for
 * `prepare` (ebs.c) and the reconciler's pass (pass.c), with one rule for plain http and
 * one set of messages. From plain values, not a Config: callers copy what they need
 * (a pass runs on a worker thread, away from reloads).
 *
 * Creating the chain contacts nothing unless AWS.Region is empty: then the metadata
 * service is asked for the region. Credentials from the instance role are fetched on
 * the first EC2 call, not here.
 *
 * Timeouts and retries are the caller's choice, set on the EC2 client afterwards.
 */

#include <stdatomic.h>

#include "creds.h"
#include "ec2.h"
#include "imds.h"

typedef struct AwsClientsSpec {
        const char *region;            /* AWS.Region; NULL or "": ask the metadata service */
        const char *endpoint;          /* AWS.Endpoint; NULL or "": the region's default (https) */
        const char *metadata_endpoint; /* AWS.MetadataEndpoint */
        bool allow_plain_http;         /* AWS.AllowPlainHttp */
        const atomic_bool *cancel;     /* set on the metadata service and EC2 clients; NULL: none */
} AwsClientsSpec;

/* ec2 borrows creds, creds borrows imds: freed in that order by aws_clients_done(). */
typedef struct AwsClients {
        Imds *imds;
        CredsProvider *creds;
        Ec2Client *ec2;
} AwsClients;

/*
 * Fills *ret (all three, or none: *ret is left zeroed on failure). msg (msg_size bytes,
 * both may be 0/NULL) gets one line for the caller to log once, in its own way, naming
 * the culprit (the configuration key and its value, or the environment variable):
 *   0               made; msg empty
 *   1               made, with a warning in msg: AWS.AllowPlainHttp=yes lets plain
 *                   http go to a host that is not loopback (session token in clear)
 *   -EINVAL         AWS.MetadataEndpoint, AWS.Region or AWS.Endpoint unusable; or
 *                   AWS_ACCESS_KEY_ID set in the environment without AWS_SECRET_ACCESS_KEY
 *   -EPROTONOSUPPORT AWS.Endpoint is plain http to a host that is not loopback, and
 *                   AWS.AllowPlainHttp is not set
 *   other           the metadata service could not tell the region (its error), -ENOMEM…
 */
int aws_clients_new(const AwsClientsSpec *spec, AwsClients *ret, char *msg, size_t msg_size);

/* Frees the three (in the order they borrow from each other) and zeroes *c; for
 * _cleanup_(aws_clients_done). */
void aws_clients_done(AwsClients *c);
