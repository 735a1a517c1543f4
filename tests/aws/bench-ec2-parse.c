/* SPDX-License-Identifier: MIT */
/*
 * How long parsing one DescribeInstances answer takes: the expat tree alone and
 * the full ec2_parse_describe_instances() into Ec2Instance structs.
 *
 *   bench-ec2-parse [--instances N] [--runs R] [--write OUT] [FILE]
 *
 * Without FILE, a synthetic answer of N instances (default 1000) shaped like EC2's
 * own (indented, with network interfaces, groups, block devices, tags, metadata
 * options: about 4 KiB each). With FILE, that answer (e.g. captured from the fake).
 * Prints the size, the median/p90/min of R runs (default 30) and the peak RSS, and,
 * as the floor, expat alone with handlers that do nothing.
 * --write saves the answer used (to compare with other parsers).
 */
#include <expat.h>
#include <getopt.h>
#include <sys/resource.h>
#include <time.h>

#include "ec2-parse.h"
#include "xml.h"

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static char *synthesize(unsigned n, size_t *ret_size) {
        char *s = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&s, &len);

#define ADD(...) fprintf(f, __VA_ARGS__)
        if (!f)
                return NULL;
        ADD("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
            "    <requestId>8f7724cf-496f-496e-8fe3-ec2bench0000</requestId>\n"
            "    <reservationSet>\n");
        for (unsigned i = 0; i < n; i++) {
                unsigned a = 1 + i / 250, b = 4 + i % 250;
                ADD("        <item>\n"
                    "            <reservationId>r-%017x</reservationId>\n"
                    "            <ownerId>123456789012</ownerId>\n"
                    "            <groupSet/>\n"
                    "            <instancesSet>\n"
                    "                <item>\n"
                    "                    <instanceId>i-%017x</instanceId>\n"
                    "                    <imageId>ami-0abcdef1234567890</imageId>\n"
                    "                    <instanceState>\n"
                    "                        <code>%d</code>\n"
                    "                        <name>%s</name>\n"
                    "                    </instanceState>\n"
                    "                    <privateDnsName>ip-10-0-%u-%u.ec2.internal</privateDnsName>\n"
                    "                    <dnsName/>\n"
                    "                    <reason/>\n"
                    "                    <keyName>ops</keyName>\n"
                    "                    <amiLaunchIndex>0</amiLaunchIndex>\n"
                    "                    <productCodes/>\n"
                    "                    <instanceType>m6i.large</instanceType>\n"
                    "                    <launchTime>2024-05-08T16:46:19.000Z</launchTime>\n"
                    "                    <placement>\n"
                    "                        <availabilityZone>us-east-1%c</availabilityZone>\n"
                    "                        <groupName/>\n"
                    "                        <tenancy>default</tenancy>\n"
                    "                    </placement>\n"
                    "                    <monitoring>\n"
                    "                        <state>disabled</state>\n"
                    "                    </monitoring>\n"
                    "                    <subnetId>subnet-0123456789abcdef%u</subnetId>\n"
                    "                    <vpcId>vpc-0a1b2c3d</vpcId>\n"
                    "                    <privateIpAddress>10.0.%u.%u</privateIpAddress>\n"
                    "                    <sourceDestCheck>true</sourceDestCheck>\n"
                    "                    <groupSet>\n"
                    "                        <item>\n"
                    "                            <groupId>sg-0123456789abcdef0</groupId>\n"
                    "                            <groupName>swarm</groupName>\n"
                    "                        </item>\n"
                    "                    </groupSet>\n"
                    "                    <architecture>x86_64</architecture>\n"
                    "                    <rootDeviceType>ebs</rootDeviceType>\n"
                    "                    <rootDeviceName>/dev/xvda</rootDeviceName>\n"
                    "                    <blockDeviceMapping>\n"
                    "                        <item>\n"
                    "                            <deviceName>/dev/xvda</deviceName>\n"
                    "                            <ebs>\n"
                    "                                <volumeId>vol-%017x</volumeId>\n"
                    "                                <status>attached</status>\n"
                    "                                <attachTime>2024-05-08T16:46:20.000Z</attachTime>\n"
                    "                                <deleteOnTermination>true</deleteOnTermination>\n"
                    "                            </ebs>\n"
                    "                        </item>\n"
                    "                        <item>\n"
                    "                            <deviceName>/dev/sdf</deviceName>\n"
                    "                            <ebs>\n"
                    "                                <volumeId>vol-%017x</volumeId>\n"
                    "                                <status>attached</status>\n"
                    "                                <attachTime>2024-05-08T16:47:20.000Z</attachTime>\n"
                    "                                <deleteOnTermination>false</deleteOnTermination>\n"
                    "                            </ebs>\n"
                    "                        </item>\n"
                    "                    </blockDeviceMapping>\n"
                    "                    <virtualizationType>hvm</virtualizationType>\n"
                    "                    <clientToken>sk-bench-10.0.%u.%u-i-%08x</clientToken>\n"
                    "                    <tagSet>\n"
                    "                        <item><key>swarmkeeper:cluster</key><value>bench</value></item>\n"
                    "                        <item><key>swarmkeeper:logical-id</key><value>10.0.%u.%u</value></item>\n"
                    "                        <item><key>swarmkeeper:role</key><value>%s</value></item>\n"
                    "                        <item><key>Name</key><value>bench-%u</value></item>\n"
                    "                    </tagSet>\n"
                    "                    <hypervisor>xen</hypervisor>\n"
                    "                    <iamInstanceProfile>\n"
                    "                        <arn>arn:aws:iam::123456789012:instance-profile/swarmkeeper</arn>\n"
                    "                        <id>AIPAJ2UL2Q7EXAMPLE</id>\n"
                    "                    </iamInstanceProfile>\n"
                    "                    <networkInterfaceSet>\n"
                    "                        <item>\n"
                    "                            <networkInterfaceId>eni-%017x</networkInterfaceId>\n"
                    "                            <subnetId>subnet-0123456789abcdef%u</subnetId>\n"
                    "                            <vpcId>vpc-0a1b2c3d</vpcId>\n"
                    "                            <description/>\n"
                    "                            <ownerId>123456789012</ownerId>\n"
                    "                            <status>in-use</status>\n"
                    "                            <macAddress>0e:12:34:56:78:%02x</macAddress>\n"
                    "                            <privateIpAddress>10.0.%u.%u</privateIpAddress>\n"
                    "                            <privateDnsName>ip-10-0-%u-%u.ec2.internal</privateDnsName>\n"
                    "                            <sourceDestCheck>true</sourceDestCheck>\n"
                    "                            <groupSet>\n"
                    "                                <item>\n"
                    "                                    <groupId>sg-0123456789abcdef0</groupId>\n"
                    "                                    <groupName>swarm</groupName>\n"
                    "                                </item>\n"
                    "                            </groupSet>\n"
                    "                            <attachment>\n"
                    "                                <attachmentId>eni-attach-%017x</attachmentId>\n"
                    "                                <deviceIndex>0</deviceIndex>\n"
                    "                                <status>attached</status>\n"
                    "                                <attachTime>2024-05-08T16:46:19.000Z</attachTime>\n"
                    "                                <deleteOnTermination>true</deleteOnTermination>\n"
                    "                            </attachment>\n"
                    "                            <privateIpAddressesSet>\n"
                    "                                <item>\n"
                    "                                    <privateIpAddress>10.0.%u.%u</privateIpAddress>\n"
                    "                                    <privateDnsName>ip-10-0-%u-%u.ec2.internal</privateDnsName>\n"
                    "                                    <primary>true</primary>\n"
                    "                                </item>\n"
                    "                            </privateIpAddressesSet>\n"
                    "                            <interfaceType>interface</interfaceType>\n"
                    "                        </item>\n"
                    "                    </networkInterfaceSet>\n"
                    "                    <ebsOptimized>true</ebsOptimized>\n"
                    "                    <enaSupport>true</enaSupport>\n"
                    "                    <metadataOptions>\n"
                    "                        <state>applied</state>\n"
                    "                        <httpTokens>required</httpTokens>\n"
                    "                        <httpPutResponseHopLimit>1</httpPutResponseHopLimit>\n"
                    "                        <httpEndpoint>enabled</httpEndpoint>\n"
                    "                        <httpProtocolIpv6>disabled</httpProtocolIpv6>\n"
                    "                        <instanceMetadataTags>disabled</instanceMetadataTags>\n"
                    "                    </metadataOptions>\n"
                    "                </item>\n"
                    "            </instancesSet>\n"
                    "        </item>\n",
                    i, i, i % 7 ? 16 : 48, i % 7 ? "running" : "terminated", a, b, 'a' + (char) (a % 3), a % 3, a, b,
                    i, 0x100000 + i, a, b, i, a, b, i < 5 ? "manager" : "worker", i, i, a % 3, i & 0xff, a, b, a, b,
                    i, a, b, a, b);
        }
        ADD("    </reservationSet>\n"
            "</DescribeInstancesResponse>\n");
#undef ADD
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        *ret_size = len;
        return s;
}

static void XMLCALL nop_start(void *u, const XML_Char *n, const XML_Char **a) {
        (void) u, (void) n, (void) a;
}
static void XMLCALL nop_end(void *u, const XML_Char *n) {
        (void) u, (void) n;
}
static void XMLCALL nop_text(void *u, const XML_Char *s, int l) {
        (void) u, (void) s, (void) l;
}

static uint64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void report(const char *what, uint64_t *t, unsigned runs) {
        qsort(t, runs, sizeof(uint64_t), cmp_u64);
        printf("%-34s median %7.2f ms   p90 %7.2f ms   min %7.2f ms   max %7.2f ms\n", what,
               (double) t[runs / 2] / 1e6, (double) t[(runs * 9) / 10 < runs ? (runs * 9) / 10 : runs - 1] / 1e6,
               (double) t[0] / 1e6, (double) t[runs - 1] / 1e6);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "instances", required_argument, NULL, 'n' },
                { "runs", required_argument, NULL, 'r' },
                { "write", required_argument, NULL, 'w' },
                {},
        };
        unsigned n = 1000, runs = 30;
        const char *write_to = NULL;
        _cleanup_(freep) char *xml = NULL;
        _cleanup_(freep) uint64_t *t_xml = NULL, *t_full = NULL, *t_expat = NULL;
        size_t size, elements = 0, instances = 0;
        struct rusage ru;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "n:r:w:", options, NULL)) >= 0)
                switch (opt) {
                case 'n':
                        n = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'r':
                        runs = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'w':
                        write_to = optarg;
                        break;
                default:
                        return EXIT_FAILURE;
                }
        if (runs == 0)
                runs = 1;

        if (optind < argc) {
                r = read_full_file(argv[optind], &xml, &size);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[optind], strerror(-r));
                        return EXIT_FAILURE;
                }
        } else if (!(xml = synthesize(n, &size)))
                return EXIT_FAILURE;

        if (write_to) {
                r = write_file_atomic(write_to, xml, size, 0644);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", write_to, strerror(-r));
                        return EXIT_FAILURE;
                }
        }

        t_xml = calloc(runs, sizeof(uint64_t));
        t_full = calloc(runs, sizeof(uint64_t));
        t_expat = calloc(runs, sizeof(uint64_t));
        if (!t_xml || !t_full || !t_expat)
                return EXIT_FAILURE;

        for (unsigned k = 0; k < runs; k++) {
                XmlDoc *d = NULL;
                Ec2InstanceList l = {};
                XML_Parser p = XML_ParserCreate(NULL);
                uint64_t t0 = now_ns();

                XML_SetElementHandler(p, nop_start, nop_end);
                XML_SetCharacterDataHandler(p, nop_text);
                if (XML_Parse(p, xml, (int) size, XML_TRUE) != XML_STATUS_OK)
                        return EXIT_FAILURE;
                t_expat[k] = now_ns() - t0;
                XML_ParserFree(p);

                t0 = now_ns();
                r = xml_parse(xml, size, &d);
                t_xml[k] = now_ns() - t0;
                if (r < 0) {
                        fprintf(stderr, "xml_parse: %s\n", strerror(-r));
                        return EXIT_FAILURE;
                }
                elements = xml_count(d);
                xml_free(d);

                t0 = now_ns();
                r = ec2_parse_describe_instances(xml, size, &l, NULL);
                t_full[k] = now_ns() - t0;
                if (r < 0) {
                        fprintf(stderr, "ec2_parse_describe_instances: %s\n", strerror(-r));
                        return EXIT_FAILURE;
                }
                instances = l.n;
                ec2_instance_list_done(&l);
        }

        printf("DescribeInstances answer: %zu instances, %zu elements, %.2f MiB, %u runs\n", instances, elements,
               (double) size / (1024.0 * 1024.0), runs);
        report("expat alone (handlers do nothing)", t_expat, runs);
        report("expat tree (xml_parse)", t_xml, runs);
        report("into Ec2Instance structs (total)", t_full, runs);
        if (getrusage(RUSAGE_SELF, &ru) == 0)
                printf("peak RSS %.1f MiB (the answer itself: %.1f MiB)\n", (double) ru.ru_maxrss / 1024.0,
                       (double) size / (1024.0 * 1024.0));
        return EXIT_SUCCESS;
}
