/* SPDX-License-Identifier: MIT */
/* Every EC2 answer parser on the same bytes: no crash, no leak, and what a parser
 * accepts is complete (ids and states present). */
#include <assert.h>

#include "ec2-parse.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *s = (const char *) data;
        Ec2InstanceList il = {};
        Ec2VolumeList vl = {};
        Ec2SubnetList sl = {};
        Ec2Instance i = {};
        Ec2Volume v = {};
        Ec2Attachment a = {};
        Ec2Error e = {};
        XmlDoc *d = NULL;
        char *next = NULL;
        size_t n;

        log_set_max_level(-1); /* quiet */

        if (xml_parse(s, size, &d) == 0) {
                const XmlNode *root = xml_root(d);
                assert(root && root->name);
                (void) xml_text(root, "reservationSet/item/instancesSet/item/instanceId");
                XML_FOREACH_CHILD(c, root, NULL)
                        assert(c->parent == root && c->text);
                xml_free(d);
        }

        if (ec2_parse_describe_instances(s, size, &il, &next) == 0) {
                for (size_t k = 0; k < il.n; k++) {
                        assert(il.items[k].instance_id && *il.items[k].instance_id);
                        assert(ec2_instance_state_to_string(il.items[k].state));
                        for (size_t j = 0; j < il.items[k].n_volumes; j++)
                                assert(ec2_attachment_state_to_string(il.items[k].volumes[j].state));
                }
                assert(!next || *next);
                ec2_instance_list_done(&il);
                free(next);
                next = NULL;
        }
        if (ec2_parse_describe_volumes(s, size, &vl, &next) == 0) {
                for (size_t k = 0; k < vl.n; k++) {
                        assert(vl.items[k].volume_id && *vl.items[k].volume_id);
                        assert(ec2_volume_state_to_string(vl.items[k].state));
                }
                ec2_volume_list_done(&vl);
                free(next);
                next = NULL;
        }
        if (ec2_parse_describe_subnets(s, size, &sl, &next) == 0) {
                for (size_t k = 0; k < sl.n; k++)
                        assert(!isempty(sl.items[k].subnet_id) && !isempty(sl.items[k].cidr_block) &&
                               !isempty(sl.items[k].availability_zone));
                ec2_subnet_list_done(&sl);
                free(next);
                next = NULL;
        }
        if (ec2_parse_run_instances(s, size, &i) == 0)
                ec2_instance_done(&i);
        if (ec2_parse_volume(s, size, &v) == 0)
                ec2_volume_done(&v);
        if (ec2_parse_attachment(s, size, &a) == 0) {
                assert(a.volume_id);
                ec2_attachment_done(&a);
        }
        (void) ec2_parse_return(s, size);
        (void) ec2_parse_terminate_instances(s, size, &n);
        if (ec2_parse_error(s, size, &e) == 0) {
                assert(e.code[0] && strlen(e.code) < sizeof(e.code));
                assert(e.error > EC2_ERR_NONE && e.error < _EC2_ERR_MAX);
        }
        return 0;
}
