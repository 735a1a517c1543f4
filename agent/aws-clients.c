/* SPDX-License-Identifier: MIT */
#include "aws-clients.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

#define URL_RULE "an http:// or https:// URL with a host and no user information"

_printf_(3, 4) static void say(char *msg, size_t size, const char *fmt, ...) {
        va_list ap;

        if (!msg || size == 0)
                return;
        va_start(ap, fmt);
        (void) vsnprintf(msg, size, fmt, ap);
        va_end(ap);
}

void aws_clients_done(AwsClients *c) {
        ec2_client_free(c->ec2);
        creds_provider_free(c->creds);
        imds_free(c->imds);
        *c = (AwsClients) {};
}

int aws_clients_new(const AwsClientsSpec *spec, AwsClients *ret, char *msg, size_t msg_size) {
        _cleanup_(aws_clients_done) AwsClients a = {};
        _cleanup_(freep) char *told = NULL;
        const char *region = nonempty(spec->region), *endpoint = nonempty(spec->endpoint);
        int r, result = 0;

        say(msg, msg_size, "%s", "");

        r = imds_new(spec->metadata_endpoint, &a.imds);
        if (r == -EINVAL) {
                say(msg, msg_size, "AWS.MetadataEndpoint=%s is not " URL_RULE, strempty(spec->metadata_endpoint));
                return r;
        }
        if (r < 0) {
                say(msg, msg_size, "Cannot use the metadata service at AWS.MetadataEndpoint=%s: %s", spec->metadata_endpoint,
                    strerror(-r));
                return r;
        }
        imds_set_cancel(a.imds, spec->cancel);

        /* The only request made here, and only when nobody configured the region. */
        if (!region) {
                r = imds_get_value(a.imds, IMDS_REGION, &told);
                if (r < 0) {
                        say(msg, msg_size, "AWS.Region is not set and the metadata service at %s could not tell it: %s",
                            spec->metadata_endpoint, strerror(-r));
                        return r;
                }
                region = told;
        }

        r = creds_provider_new(a.imds, &a.creds);
        if (r == -EINVAL) {
                say(msg, msg_size, "AWS_ACCESS_KEY_ID is set in the environment, but AWS_SECRET_ACCESS_KEY is not");
                return r;
        }
        if (r < 0) {
                say(msg, msg_size, "Cannot set up AWS credentials: %s", strerror(-r));
                return r;
        }

        r = ec2_client_new(region, endpoint, a.creds, &a.ec2);
        if (r == -EINVAL && endpoint && http_url_validate(endpoint) < 0) {
                say(msg, msg_size, "AWS.Endpoint=%s is not " URL_RULE, endpoint);
                return r;
        }
        if (r == -EINVAL && told) {
                say(msg, msg_size, "The metadata service at %s told the region '%s', which is not a region name",
                    spec->metadata_endpoint, region);
                return r;
        }
        if (r == -EINVAL) {
                say(msg, msg_size, "AWS.Region=%s is not a region name (lowercase letters, digits and dashes)",
                    region);
                return r;
        }
        if (r < 0) {
                say(msg, msg_size, "Cannot set up the EC2 client for %s: %s", region, strerror(-r));
                return r;
        }

        /* The client would refuse it on every request too; refusing here says why, once,
         * before anything else happens. */
        if (ec2_client_endpoint_plain(a.ec2)) {
                if (!spec->allow_plain_http) {
                        say(msg, msg_size,
                            "AWS.Endpoint=%s is plain http to a host that is not loopback: requests would carry "
                            "the session token in clear. Use https, or set AWS.AllowPlainHttp=yes for a test setup",
                            endpoint);
                        return -EPROTONOSUPPORT;
                }
                say(msg, msg_size,
                    "AWS.AllowPlainHttp=yes: EC2 requests to AWS.Endpoint=%s go over plain http, session token in "
                    "clear. For test setups only",
                    endpoint);
                ec2_client_set_allow_plain_http(a.ec2, true);
                result = 1;
        }
        ec2_client_set_cancel(a.ec2, spec->cancel);

        *ret = a;
        a = (AwsClients) {};
        return result;
}
