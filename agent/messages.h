/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Fixed journal MESSAGE_IDs for the events operators search for, e.g.
 *   journalctl MESSAGE_ID=ae6a74ae370e4a54a005b7bb200da937
 * Never change an id once released; add new ones at the end.
 */

#define SK_MESSAGE_VOLUME_FORMATTED     "bae19a65e64a4aa68be7905d36ed3ed1"
#define SK_MESSAGE_VOLUME_MOUNTED       "ae6a74ae370e4a54a005b7bb200da937"
#define SK_MESSAGE_FORMAT_REFUSED       "5de92db3a26b4bcca63c4617681c5fbd"
#define SK_MESSAGE_ENGINE_LABELS        "11a69971411b4d30b5c1ffb6f04de796"
#define SK_MESSAGE_VOLUME_ATTACHED      "ab3710ff38bc4f028cdff123617aecac"
#define SK_MESSAGE_SWARM_JOINED         "8e7949ff540f4f27a883714427f4f265"
#define SK_MESSAGE_SWARM_INITIALIZED    "b4de82557cac47ea8b3ded2a83c962d9"
#define SK_MESSAGE_LEADER_GAINED        "19a5333c39224c27bc9845be44cb76aa"
#define SK_MESSAGE_LEADER_LOST          "b569ec2c4bdd4e968ed0f38092837e11"
#define SK_MESSAGE_ENGINE_UNREACHABLE   "46be11531b4b4b1e8c4f1767232c9079"
#define SK_MESSAGE_AWS_ERROR            "7858b24165b74412a713b5a24f605b7f"
#define SK_MESSAGE_CREDENTIALS_REFRESHED "106ad3df8ad44050bedeeea9e93c4c6c"
#define SK_MESSAGE_MOUNT_REFUSED        "6462e9d0fb344cf39b2eb65bc38e832c"
#define SK_MESSAGE_CONFIG_RELOADED      "0ebebcbbee324fb1950c9cbcaf45fcef"
#define SK_MESSAGE_MULTI_ATTACH_REFUSED "506dc7aeab49ec21b6ab1caa8fda4c46"
/* The leader's reconciler (reconciler.c, pass.c, act.c) */
#define SK_MESSAGE_REPLACEMENT_STARTED  "4e00981964cc4579b32434529e28cc74"
#define SK_MESSAGE_INSTANCE_LAUNCHED    "12bce135d3d74fe6809b77fda42ea584"
#define SK_MESSAGE_RC_VOLUME_ATTACHED   "3d25cff61856424f8120317b03aa3883"
#define SK_MESSAGE_NODE_BACK            "1a1d9f77d3514f1c916575563aa36634"
#define SK_MESSAGE_FENCE                "b0373ead79604effab29ac8cf1ea7042"
#define SK_MESSAGE_SCALE_STEP           "a22c8cb95718407aae278840e24b7ac0"
#define SK_MESSAGE_QUORUM_LOST          "d1ece0c129eb4fdeba75e1477c773600"
#define SK_MESSAGE_QUORUM_RESTORED      "0b82871d79d243728da3e985369cf5cc"
#define SK_MESSAGE_ACTION_FAILED        "9be2292ac9bc47aebab60b4c54a06b84"
#define SK_MESSAGE_PLAN_ACTION          "a023739e8196418eb5d71ee371294a9e"
#define SK_MESSAGE_SEAT_STUCK           "dfe7e4860266408186a6702ddf6a4b53"
#define SK_MESSAGE_ACTION_SKIPPED       "21c9060080d641c08d97f1f2d253ad23"
/* prepare: several volumes tagged for this host's seat (ebs.c) */
#define SK_MESSAGE_VOLUME_AMBIGUOUS     "4edb4ca6551144c99697585e18960dcf"
/* run: a manager with no swarm decided not to initialise one (daemon-membership.c); SK_REASON says why */
#define SK_MESSAGE_INIT_WITHHELD        "357eb96424054b30b147051d5a35bd0a"
