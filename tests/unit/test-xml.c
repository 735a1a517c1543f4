/* SPDX-License-Identifier: MIT */
#include "xml.h"
#include "test.h"

static int parse(const char *s, XmlDoc **d) {
        return xml_parse(s, strlen(s), d);
}

static void test_tree(void) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        const char *s =
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<DescribeThingsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\n"
                "  <requestId>abc</requestId>\n"
                "  <set>\n"
                "    <item><id>one</id><empty/><amp>a &amp; b &lt;c&gt; &#x263A;</amp></item>\n"
                "    <item><id>two</id><cdata><![CDATA[<raw> & stuff]]></cdata></item>\n"
                "    <other>x</other>\n"
                "    <item><id>three</id></item>\n"
                "  </set>\n"
                "</DescribeThingsResponse>\n";
        const XmlNode *root, *set;
        const char *ids[3];
        size_t n = 0;

        CHECK_INT(parse(s, &d), 0);
        root = xml_root(d);
        CHECK_STR(root->name, "DescribeThingsResponse");
        CHECK_STR(root->text, ""); /* indentation only */
        CHECK_STR(xml_text(root, "requestId"), "abc");
        set = xml_child(root, "set");
        CHECK(set != NULL);
        XML_FOREACH_CHILD(item, set, "item") {
                if (n < 3)
                        ids[n] = xml_text(item, "id");
                n++;
        }
        CHECK_INT(n, 3);
        CHECK_STR(ids[0], "one");
        CHECK_STR(ids[1], "two");
        CHECK_STR(ids[2], "three");
        CHECK_STR(xml_text(root, "set/item/amp"), "a & b <c> \xe2\x98\xba");
        CHECK_STR(xml_text(root, "set/item/empty"), "");
        CHECK(xml_text(root, "set/item/missing") == NULL);
        CHECK(xml_text(root, "nope/item") == NULL);
        CHECK(xml_path(root, "") == root);
        CHECK(xml_path(root, "set//item") == NULL);
        CHECK_STR(xml_text(xml_next(xml_child(set, "item"), "item"), "cdata"), "<raw> & stuff");
        CHECK_STR(xml_text(set, "other"), "x");
        CHECK_STR(xml_child(set, NULL)->name, "item");
        CHECK_INT(xml_count(d), 13);
}

static void test_mixed_text(void) {
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        CHECK_INT(parse("<a>x<b>y</b>z</a>", &d), 0);
        CHECK_STR(xml_root(d)->text, "xz");
        CHECK_STR(xml_text(xml_root(d), "b"), "y");
        CHECK_INT(xml_root(d)->text_len, 2);
        d = xml_free(d);

        /* Indentation is not content; a blank leaf keeps its blanks. */
        CHECK_INT(parse("<a>\n  <v> </v>\n  <w>\t</w>\n</a>", &d), 0);
        CHECK_STR(xml_root(d)->text, "");
        CHECK_STR(xml_text(xml_root(d), "v"), " ");
        CHECK_STR(xml_text(xml_root(d), "w"), "\t");
        d = xml_free(d);
        CHECK_INT(parse("<a> <b/> x <c/> </a>", &d), 0);
        CHECK_STR(xml_root(d)->text, " x ");
}

static void test_rejects(void) {
        static const char *const bad[] = {
                "",
                "   ",
                "<a>",
                "<a></b>",
                "<a><b></a>",
                "<a>&undefined;</a>",
                "<a/><b/>",
                "not xml at all",
                "<a>\x01</a>",
                "<a attr='1' attr='2'/>",
                /* billion laughs and external entities: any DOCTYPE is refused */
                ("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
                 "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>"),
                "<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a/>",
                "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/shadow\">]><a>&x;</a>",
                "<!DOCTYPE a><a/>",
                "<DescribeInstancesResponse><reservationSet><item>", /* truncated */
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                XmlDoc *d = NULL;
                int r = xml_parse(bad[i], strlen(bad[i]), &d);
                if (r != -EBADMSG)
                        fprintf(stderr, "case %zu: %d\n", i, r);
                CHECK_INT(r, -EBADMSG);
                CHECK(d == NULL);
        }
        /* Embedded NUL is not XML. */
        XmlDoc *d = NULL;
        CHECK_INT(xml_parse("<a>x\0y</a>", 10, &d), -EBADMSG);
}

static void test_limits(void) {
        char *deep = malloc(XML_MAX_DEPTH * 8 + 64), *p = deep;
        XmlDoc *d = NULL;

        for (unsigned i = 0; i <= XML_MAX_DEPTH; i++)
                p = stpcpy(p, "<a>");
        for (unsigned i = 0; i <= XML_MAX_DEPTH; i++)
                p = stpcpy(p, "</a>");
        CHECK_INT(xml_parse(deep, strlen(deep), &d), -E2BIG);
        CHECK(d == NULL);

        /* Exactly at the limit is fine. */
        p = deep;
        for (unsigned i = 0; i < XML_MAX_DEPTH; i++)
                p = stpcpy(p, "<a>");
        for (unsigned i = 0; i < XML_MAX_DEPTH; i++)
                p = stpcpy(p, "</a>");
        CHECK_INT(xml_parse(deep, strlen(deep), &d), 0);
        d = xml_free(d);
        free(deep);

        CHECK_INT(xml_parse("<a/>", (size_t) XML_MAX_INPUT + 1, &d), -E2BIG);
}

static void test_big(void) {
        /* Many siblings and long text: the arena grows. */
        size_t n = 20000, cap = n * 64 + 1024 + 300000;
        char *s = malloc(cap), *p = s;
        _cleanup_(xml_freep) XmlDoc *d = NULL;
        size_t count = 0;

        p = stpcpy(p, "<r>");
        for (size_t i = 0; i < n; i++)
                p += sprintf(p, "<item><n>%zu</n></item>", i);
        p = stpcpy(p, "<long>");
        for (size_t i = 0; i < 200000; i++)
                *p++ = 'x';
        p = stpcpy(p, "</long></r>");
        CHECK_INT(xml_parse(s, (size_t) (p - s), &d), 0);
        XML_FOREACH_CHILD(item, xml_root(d), "item")
                count++;
        CHECK_INT(count, n);
        CHECK_INT(xml_child(xml_root(d), "long")->text_len, 200000);
        CHECK_STR(xml_text(xml_root(d), "item/n"), "0");
        free(s);
}

int main(void) {
        test_tree();
        test_mixed_text();
        test_rejects();
        test_limits();
        test_big();
        return test_done("xml");
}
