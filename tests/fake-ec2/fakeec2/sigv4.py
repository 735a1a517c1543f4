"""SigV4: authenticate() checks a request's AWS4-HMAC-SHA256 Authorization
header (static key or IMDS temporary credentials, region, clock skew) by
signing the request again with botocore."""

import datetime
import hashlib
import hmac
import time

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .common import EC2Error


class SigV4:
    def authenticate(self, h, body):
        """Verify the SigV4 Authorization header by recomputing the signature
        with botocore over exactly the headers the client says it signed,
        with the client's own X-Amz-Date.  Returns the access key id."""
        auth = h.headers.get("Authorization")
        if not auth:
            raise EC2Error("MissingAuthenticationToken", "Request is missing "
                           "Authentication Token", 401)
        algo, _, rest = auth.strip().partition(" ")
        parts = dict(x.strip().partition("=")[::2] for x in rest.split(","))
        if algo != "AWS4-HMAC-SHA256" or not all(
                parts.get(k) for k in ("Credential", "SignedHeaders",
                                       "Signature")):
            raise EC2Error("IncompleteSignature", "Authorization header "
                           "requires 'Credential', 'SignedHeaders' and "
                           "'Signature' parameters.")
        scope = parts["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise EC2Error("IncompleteSignature", "Credential is malformed")
        akid, day, region, service = scope[:4]
        amz_date = h.headers.get("X-Amz-Date", "")
        try:
            ts = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise EC2Error("IncompleteSignature", "Authorization header "
                           "requires existence of either a 'X-Amz-Date' or a "
                           "'Date' header.")
        fail = EC2Error("AuthFailure", "AWS was not able to validate the "
                        "provided access credentials", 401)
        token = h.headers.get("X-Amz-Security-Token")
        if akid in self.keys:
            secret = self.keys[akid]
            if token is not None:
                raise fail
        elif akid in self.temp_creds:
            c = self.temp_creds[akid]
            secret = c["secret"]
            if token is None or not hmac.compare_digest(token, c["token"]):
                raise fail
        else:
            raise fail
        if region != self.region or service != "ec2" or day != amz_date[:8]:
            raise EC2Error("AuthFailure", "Credential should be scoped to a "
                           "valid region, service and date.", 401)
        skew = abs(time.time() - ts.replace(
            tzinfo=datetime.timezone.utc).timestamp())
        if skew > self.args.max_skew:
            raise EC2Error("RequestExpired", "Request has expired.")
        if akid in self.temp_creds and \
                time.time() > self.temp_creds[akid]["expiration"]:
            raise EC2Error("RequestExpired", "Request has expired.")
        signed = parts["SignedHeaders"].split(";")
        if "host" not in signed:
            raise fail
        req = AWSRequest(method=h.command, url="http://%s%s" % (
            h.headers.get("Host", ""), h.path), data=body)
        for name in signed:
            values = h.headers.get_all(name)
            if values is None:
                raise fail
            for v in values:
                req.headers[name] = v
        signer = SigV4Auth(Credentials(akid, secret, token), service, region)
        req.context["timestamp"] = amz_date
        if signer.signed_headers(signer.headers_to_sign(req)) != \
                parts["SignedHeaders"]:
            raise fail
        sha = req.headers.get("X-Amz-Content-SHA256")
        if sha not in (None, "UNSIGNED-PAYLOAD") and \
                sha != hashlib.sha256(body).hexdigest():
            raise fail
        canonical = signer.canonical_request(req)
        expected = signer.signature(
            signer.string_to_sign(req, canonical), req)
        if not hmac.compare_digest(expected, parts["Signature"]):
            raise fail
        return akid
