/* SPDX-License-Identifier: MIT */
/*
 * The manager seats, one step each (see the list at the top of plan.c): with a leader and
 * quorum, "Identity is proven", "Generations, ClientTokens that never repeat", "Volumes
 * that have held swarm state", "Present", "One manager at a time", "join_fresh", "Volume
 * lost" (demote, remove, create), "Volume lost for good" and "Deadlines"; in quorum-loss
 * mode, "Modes" (plan_quorum_loss()). A manager's step is computed per seat
 * (eval_manager()), then plan_managers() lets at most one seat change the cluster. Pure:
 * no I/O, no clock, no globals.
 */

#include <stdio.h> /* snprintf() only */
#include <string.h>

#include "plan-internal.h"

/* ---- names ----------------------------------------------------------------------------- */

static const char *instance_state_name(RcInstanceState s) {
        static const char *const t[] = {
                [RC_INSTANCE_PENDING] = "pending",     [RC_INSTANCE_RUNNING] = "running",
                [RC_INSTANCE_SHUTTING_DOWN] = "shutting-down", [RC_INSTANCE_TERMINATED] = "terminated",
                [RC_INSTANCE_STOPPING] = "stopping",   [RC_INSTANCE_STOPPED] = "stopped",
        };
        return (unsigned) s < ELEMENTSOF(t) ? t[s] : "unknown";
}

static const char *volume_state_name(RcVolumeState s) {
        static const char *const t[] = {
                [RC_VOLUME_CREATING] = "creating", [RC_VOLUME_AVAILABLE] = "available",
                [RC_VOLUME_IN_USE] = "in-use",     [RC_VOLUME_DELETING] = "deleting",
                [RC_VOLUME_DELETED] = "deleted",   [RC_VOLUME_ERROR] = "error",
        };
        return (unsigned) s < ELEMENTSOF(t) ? t[s] : "unknown";
}

/* What DescribeVolumes by id said this pass about volume id (unknown: not asked, or no answer). */
static RcVolumeProbe volume_asked(const Planner *p, const char *id) {
        for (size_t i = 0; id && i < p->obs->n_volumes_asked; i++)
                if (streq_ptr(p->obs->volumes_asked[i].volume_id, id))
                        return p->obs->volumes_asked[i].probe;
        return RC_VOLUME_PROBE_UNKNOWN;
}

static const char *volume_lost_name(RcVolumeState s) {
        return s == RC_VOLUME_ERROR ? "in error" : s == RC_VOLUME_DELETING ? "being deleted" : volume_state_name(s);
}

static const char *node_state_name(RcNodeState s) {
        static const char *const t[] = {
                [RC_NODE_UNKNOWN] = "unknown", [RC_NODE_READY] = "ready",
                [RC_NODE_DOWN] = "down",       [RC_NODE_DISCONNECTED] = "disconnected",
        };
        return (unsigned) s < ELEMENTSOF(t) ? t[s] : "unknown";
}

static const char *reach_name(RcReachability r) {
        static const char *const t[] = {
                [RC_REACH_NONE] = "no manager status", [RC_REACH_UNKNOWN] = "reachability unknown",
                [RC_REACH_UNREACHABLE] = "unreachable", [RC_REACH_REACHABLE] = "reachable",
        };
        return (unsigned) r < ELEMENTSOF(t) ? t[r] : "unknown";
}

/* ---- managers: leader with quorum ------------------------------------------------------ */

static bool attached_to(const RcVolume *v, const char *instance_id) {
        for (size_t i = 0; i < v->n_attached; i++)
                if (streq_ptr(v->attached_to[i], instance_id))
                        return true;
        return false;
}

static const char *first_attachment(const RcVolume *v) {
        return v->n_attached > 0 && v->attached_to[0] ? v->attached_to[0] : "another instance";
}

/* Would removing member n (not reachable itself) from Raft keep a majority of the rest? */
static bool can_remove_member(const Planner *p, const RcNode *n) {
        size_t members = p->raft_members, reachable = p->raft_reachable;

        if (n->reachability == RC_REACH_NONE || members == 0)
                return true;
        if (n->reachability == RC_REACH_REACHABLE)
                reachable--;
        return quorum_has_majority(reachable, members - 1); /* members > 0 here */
}

static bool volumes_plausible(const Planner *p) {
        for (size_t k = 0; k < p->spec->n_managers; k++)
                if (p->slots[k].n_good_vol > 0)
                        return true;
        return false;
}

/* Was token used by an instance that is terminated (listed, or as RunInstances said)? */
static bool token_dead(const Planner *p, const char *token) {
        size_t n_dead = p->mem ? p->mem->n_dead_client_tokens : 0;

        for (size_t k = 0; k < p->n_inst_by_id; k++)
                if (p->inst_by_id[k]->state == RC_INSTANCE_TERMINATED && streq_ptr(p->inst_by_id[k]->client_token, token))
                        return true;
        for (size_t k = 0; k < n_dead; k++)
                if (streq_ptr(p->mem->dead_client_tokens[k], token))
                        return true;
        return false;
}

/* The first generation from v's on whose token no terminated instance is known, and its
 * token in tok. false (tok empty): none within reach (a tag near UINT64_MAX). */
static bool seat_generation(const Planner *p, const Slot *s, const RcVolume *v, uint64_t *ret,
                            char tok[static RC_CLIENT_TOKEN_MAX + 1]) {
        size_t tries = p->n_inst_by_id + (p->mem ? p->mem->n_dead_client_tokens : 0) + 1;

        for (uint64_t g = v->generation; tries > 0 && g >= v->generation; g++, tries--) {
                if (rc_seat_token(p->spec->cluster, s->lid, v->id, g, tok, RC_CLIENT_TOKEN_MAX + 1) < 0)
                        break;
                if (!token_dead(p, tok)) {
                        *ret = g;
                        return true;
                }
        }
        tok[0] = 0;
        return false;
}

/* Did this cluster launch i for the seat whose volume is v: its ClientToken is the seat's
 * (this generation or one of the next few, which our own SET_GENERATION may have written
 * before the listing shows it), or it is our launch in flight? */
static bool launched_for_seat(const Planner *p, const Slot *s, const RcVolume *v, const RcInstance *i) {
        const RcInflight *f = s->inflight[RC_INFLIGHT_LAUNCH];
        char tok[RC_CLIENT_TOKEN_MAX + 1];

        if (f && streq_ptr(f->instance_id, i->id))
                return true;
        if (!i->client_token)
                return false;
        for (uint64_t k = 0; k <= RC_GENERATION_LOOKAHEAD && v->generation + k >= v->generation; k++)
                if (rc_seat_token(p->spec->cluster, s->lid, v->id, v->generation + k, tok, sizeof(tok)) >= 0 &&
                    streq(tok, i->client_token))
                        return true;
        return false;
}

/* The seat's token of the current generation was used by a terminated instance: the next
 * generation first (a later pass launches with its token). true: a step was set. */
static bool step_generation(Planner *p, Slot *s, const RcVolume *v, uint64_t *ret_gen,
                            char tok[static RC_CLIENT_TOKEN_MAX + 1]) {
        uint64_t g = 0;
        RcAction *a;

        if (!seat_generation(p, s, v, &g, tok)) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: volume %s's generation tag %llu leaves no unused ClientToken: an operator must reset it.",
                          s->lid, v->id, (unsigned long long) v->generation);
                return true;
        }
        *ret_gen = g;
        if (g == v->generation)
                return false;
        a = slot_step(s, RC_ACTION_SET_GENERATION, false, s->lid,
                      "%s: the ClientToken of generation %llu was used by an instance that is terminated: volume %s goes to generation %llu before the launch.",
                      s->lid, (unsigned long long) v->generation, v->id, (unsigned long long) g);
        a->volume_id = v->id;
        a->volume_generation = g;
        return true;
}

static void step_launch_manager(Planner *p, Slot *s, const RcVolume *v, const RcSubnet *sub, bool join_fresh) {
        const RcInstance *old = s->newest_terminated;
        char tok[RC_CLIENT_TOKEN_MAX + 1];
        uint64_t gen = 0;
        RcAction *a;

        if (step_generation(p, s, v, &gen, tok))
                return;
        if (join_fresh)
                a = slot_step(s, RC_ACTION_LAUNCH_MANAGER, false, s->lid,
                              "%s: no instance and no node with this logical id: launching it with volume %s to join as a new manager.",
                              s->lid, v->id);
        else if (old)
                a = slot_step(s, RC_ACTION_LAUNCH_MANAGER, false, s->lid,
                              "%s: instance %s is terminated: launching a replacement with the same IP and volume %s.",
                              s->lid, old->id, v->id);
        else
                a = slot_step(s, RC_ACTION_LAUNCH_MANAGER, false, s->lid,
                              "%s: no instance: launching one with the same IP to rejoin from volume %s.", s->lid, v->id);
        a->private_ip = s->lid;
        a->subnet_id = sub->id;
        a->availability_zone = sub->availability_zone;
        a->volume_id = v->id;
        a->replaces = old ? old->id : v->id; /* for the logs: the token derives from the generation */
        a->join_fresh = join_fresh;
        (void) snprintf(a->slot, sizeof(a->slot), "%s", s->lid);
        a->volume_generation = gen;
        memcpy(a->client_token, tok, sizeof(a->client_token));
}

/* The subnet for a launch or a volume, checked against the volume's AZ; NULL: reported. */
static const RcSubnet *slot_subnet(Planner *p, Slot *s, const RcVolume *v) {
        const RcSubnet *sub = subnet_for(p, s->lid);

        if (!sub) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: no subnet of Launch.SubnetIds holds this address (EC2 reserves the first four and the last): cannot launch it.",
                          s->lid);
                return NULL;
        }
        if (v && v->availability_zone && sub->availability_zone && !streq(v->availability_zone, sub->availability_zone)) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: volume %s is in %s but subnet %s is in %s: cannot launch it there.", s->lid, v->id,
                          v->availability_zone, sub->id, sub->availability_zone);
                return NULL;
        }
        return sub;
}

/* No intact volume, no present instance: demote → gone from Raft → remove → create. */
static void eval_volume_lost(Planner *p, Slot *s) {
        const RcInstance *old = s->newest_terminated;
        const RcInflight *f = s->inflight[RC_INFLIGHT_CREATE_VOLUME];
        const RcSubnet *sub;
        RcAction *a;

        if (s->member) {
                const RcNode *n = s->member;

                if (!n->manager) {
                        slot_wait(s, RC_WAIT_NODE, true, s->lid,
                                  "%s: node %s is demoted; waiting until it has no ManagerStatus before removing it.",
                                  s->lid, n->id);
                        return;
                }
                if (n->reachability == RC_REACH_REACHABLE) {
                        slot_step(s, RC_ACTION_REPORT, false, s->lid,
                                  "%s: no instance and no volume, yet its node %s is a Reachable manager: not demoting it.",
                                  s->lid, n->id);
                        return;
                }
                if (!volumes_plausible(p)) {
                        slot_wait(s, RC_WAIT_SAFETY, false, s->lid,
                                  "%s: no volume listed for it, but none for any manager either: not demoting node %s on that listing.",
                                  s->lid, n->id);
                        return;
                }
                if (!s->bad_vol) {
                        /* Nothing listed for it: the listing is filtered by tags, and a volume
                         * that lost or never had its tag still holds the Raft state. Demoting
                         * cannot be undone: only on EC2's own word about that volume id. */
                        const char *vid = s->seat ? s->seat->volume_id : NULL;
                        RcVolumeProbe probe = volume_asked(p, vid);

                        if (probe == RC_VOLUME_PROBE_EXISTS && vid) {
                                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                                          "%s: no volume is tagged for it, but its volume %s exists: not demoting node %s; tag it %s or delete it.",
                                          s->lid, vid, n->id, s->lid);
                                return;
                        }
                        if (!vid || (probe != RC_VOLUME_PROBE_NOT_FOUND && probe != RC_VOLUME_PROBE_ERROR)) {
                                slot_wait(s, RC_WAIT_SAFETY, false, s->lid,
                                          "%s: no volume listed for it, but %s%s: not demoting node %s before EC2 says that volume is gone.",
                                          s->lid, vid ? "nothing is known yet of its volume " : "no volume id is known to ask EC2 about",
                                          strempty(vid), n->id);
                                return;
                        }
                }
                if (!can_remove_member(p, n)) {
                        slot_wait(s, RC_WAIT_SAFETY, false, s->lid,
                                  "%s: volume lost, but demoting node %s now would cost quorum (%zu of %zu managers reachable).",
                                  s->lid, n->id, p->raft_reachable, p->raft_members);
                        return;
                }
                a = slot_step(s, RC_ACTION_DEMOTE, false, s->lid,
                              "%s: its volume is %s and it has no instance: demoting its old node %s, to remove it before a fresh join.",
                              s->lid, s->bad_vol ? volume_lost_name(s->bad_vol->state)
                              : volume_asked(p, s->seat->volume_id) == RC_VOLUME_PROBE_ERROR ? "in error"
                                                                                             : "gone (not found by id)", n->id);
                a->node_id = n->id;
                return;
        }
        if (s->other) {
                const RcNode *n = s->other;

                if (n->state != RC_NODE_DOWN) {
                        slot_wait(s, RC_WAIT_NODE, true, s->lid,
                                  "%s: old node %s is out of Raft but %s: waiting until it is Down to remove it.", s->lid,
                                  n->id, node_state_name(n->state));
                        return;
                }
                a = slot_step(s, RC_ACTION_REMOVE_NODE, true, s->lid,
                              "%s: old node %s is demoted and Down: removing it before the new manager joins.", s->lid, n->id);
                a->node_id = n->id;
                return;
        }
        if (s->promoted) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: its volume is lost and node %s is a manager without ManagerStatus: not joining another in its place.",
                          s->lid, s->promoted->id);
                return;
        }
        if (f) {
                slot_wait(s, RC_WAIT_IN_FLIGHT, true, s->lid,
                          "%s: CreateVolume sent %llus ago (%s), not listed yet.", s->lid, secs(age(p, f->since_usec)),
                          f->volume_id ?: "no id yet");
                return;
        }
        sub = slot_subnet(p, s, NULL);
        if (!sub)
                return;
        if (s->bad_vol)
                a = slot_step(s, RC_ACTION_CREATE_VOLUME, false, s->lid,
                              "%s: volume %s is %s: creating a new volume in %s; the new host will join as a new node.",
                              s->lid, s->bad_vol->id, volume_lost_name(s->bad_vol->state), strempty(sub->availability_zone));
        else
                a = slot_step(s, RC_ACTION_CREATE_VOLUME, false, s->lid,
                              "%s: no volume is tagged for it: creating one in %s.", s->lid, strempty(sub->availability_zone));
        a->subnet_id = sub->id;
        a->availability_zone = sub->availability_zone;
        a->private_ip = s->lid;
        if (old)
                a->replaces = old->id;
        else if (s->bad_vol)
                a->replaces = s->bad_vol->id;
        else {
                /* Neither listed any more: the manager volumes listed, so that a later loss
                 * of this seat's volume (after this one was created) gets another token. */
                uint64_t h = 0;
                for (size_t k = 0; k < p->obs->n_volumes; k++)
                        if (p->obs->volumes[k].id && p->obs->volumes[k].logical_id)
                                h += hash_str(p->obs->volumes[k].id);
                (void) snprintf(a->generation, sizeof(a->generation), "vols-%016llx", (unsigned long long) h);
                a->replaces = "none";
                (void) snprintf(a->slot, sizeof(a->slot), "volume-%s", s->lid);
                if (rc_client_token(p->spec->cluster, a->slot, a->generation, a->client_token, sizeof(a->client_token)) < 0)
                        a->client_token[0] = 0;
                return;
        }
        (void) snprintf(a->slot, sizeof(a->slot), "volume-%s", s->lid);
        set_token(p, a);
}

static bool listed_terminated(const Planner *p, const char *id) {
        const RcInstance *i = instance_by_id(p, id);
        return i && i->state == RC_INSTANCE_TERMINATED;
}

/* A worker that EC2 gave this manager's address: drain its node, then terminate it; it is
 * not counted toward Cluster.Workers meanwhile (see worker_condemned()). */
static void step_evict_worker(Planner *p, Slot *s, const RcInstance *i) {
        const RcInflight *f = drain_by_instance(p, i->id);
        uint64_t drain_usec = p->spec->drain_usec ?: DEFAULT_DRAIN_USEC, since;
        const RcNode *node;
        InstanceNodes in;
        RcAction *a;

        /* its node by address first (the label only a hint): instance_nodes() */
        instance_nodes(p, i, &in);
        node = in.first;
        if (node && in.member) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: worker instance %s holds its address, but its node %s is a manager: not touched.", s->lid,
                          i->id, node->id);
                return;
        }
        if (!node || node->state == RC_NODE_DOWN) {
                a = slot_step(s, RC_ACTION_TERMINATE_WORKER, true, s->lid,
                              "%s: worker instance %s holds its address (%s): terminating it so that the manager can be launched.",
                              s->lid, i->id, node ? "its node is Down" : "it never joined");
                a->instance_id = i->id;
                a->node_id = node ? node->id : NULL;
                return;
        }
        if (!streq_ptr(node->availability, "drain")) {
                if (f && inflight_fresh(p, f)) {
                        slot_wait(s, RC_WAIT_IN_FLIGHT, true, s->lid,
                                  "%s: worker instance %s holds its address; drain of node %s sent %llus ago.", s->lid,
                                  i->id, node->id, secs(age(p, f->since_usec)));
                        return;
                }
                a = slot_step(s, RC_ACTION_DRAIN_WORKER, true, s->lid,
                              "%s: worker instance %s holds its address: draining node %s before terminating it.", s->lid,
                              i->id, node->id);
                a->instance_id = i->id;
                a->node_id = node->id;
                return;
        }
        since = node_drained_since(p, node) ?: f ? f->since_usec : 0;
        if (since != 0 && age(p, since) >= drain_usec) {
                a = slot_step(s, RC_ACTION_TERMINATE_WORKER, true, s->lid,
                              "%s: worker instance %s holds its address; node %s drained for %llus: terminating it.",
                              s->lid, i->id, node->id, secs(age(p, since)));
                a->instance_id = i->id;
                a->node_id = node->id;
                return;
        }
        slot_wait(s, RC_WAIT_DRAIN, true, s->lid, "%s: worker instance %s holds its address; node %s drained for %llus of %llus.",
                  s->lid, i->id, node->id, secs(age(p, since)), secs(drain_usec));
}

static void eval_missing(Planner *p, Slot *s) {
        const RcInflight *f = s->inflight[RC_INFLIGHT_LAUNCH];
        const RcVolume *v = s->vol;
        const RcSubnet *sub;

        if (f && !(f->instance_id && listed_terminated(p, f->instance_id))) {
                slot_wait(s, RC_WAIT_IN_FLIGHT, true, s->lid,
                          "%s: launched %s %llus ago, not listed yet (EC2 is eventually consistent): not missing.", s->lid,
                          f->instance_id ?: "an instance", secs(age(p, f->since_usec)));
                return;
        }
        if (!v) {
                eval_volume_lost(p, s);
                return;
        }
        if (v->state == RC_VOLUME_CREATING) {
                slot_wait(s, RC_WAIT_EC2, true, s->lid, "%s: volume %s is being created.", s->lid, v->id);
                return;
        }
        if (v->state == RC_VOLUME_IN_USE || v->n_attached > 0) {
                slot_wait(s, RC_WAIT_EC2, true, s->lid,
                          "%s: its instance is gone but volume %s is still attached to %s: waiting for it to detach.", s->lid,
                          v->id, first_attachment(v));
                return;
        }
        if (s->member && !s->member->manager) {
                /* Demoted (the volume-lost sequence, or by hand) and still in Raft. */
                slot_wait(s, RC_WAIT_NODE, true, s->lid,
                          "%s: node %s is demoted; waiting until it has no ManagerStatus.", s->lid, s->member->id);
                return;
        }
        if (!s->member && s->other) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: its node %s is no longer a manager but volume %s is intact: an operator must decide.", s->lid,
                          s->other->id, v->id);
                return;
        }
        if (s->ip_holder && streq_ptr(s->ip_holder->role, "worker") && worker_live(s->ip_holder)) {
                step_evict_worker(p, s, s->ip_holder);
                return;
        }
        if (s->ip_holder) {
                slot_wait(s, RC_WAIT_SAFETY, false, s->lid,
                          "%s: the address is held by instance %s (%s, tagged %s): nothing is launched while it is.",
                          s->lid, s->ip_holder->id, instance_state_name(s->ip_holder->state),
                          s->ip_holder->role ?: "without a role");
                return;
        }
        if (s->member && s->member->reachability == RC_REACH_REACHABLE &&
            !(s->member->instance_id && listed_terminated(p, s->member->instance_id))) {
                /* EC2 lists no live instance, Swarm says something answers there and its node
                 * names no instance EC2 calls terminated (none, or one not listed yet): trust
                 * neither yet. When EC2 lists the node's own instance as terminated, Swarm's
                 * Ready/Reachable is only late (a node goes Down a few heartbeats after its
                 * engine, Raft calls a peer Unreachable once its connection times out):
                 * terminated is final, and the volume was checked detached above. */
                slot_wait(s, RC_WAIT_NODE, false, s->lid,
                          "%s: no live instance is listed, yet node %s is %s and Reachable: waiting.", s->lid,
                          s->member->id, node_state_name(s->member->state));
                return;
        }
        sub = slot_subnet(p, s, v);
        if (!sub)
                return;
        step_launch_manager(p, s, v, sub, s->n_nodes == 0);
}

static void eval_running(Planner *p, Slot *s) {
        const RcInstance *i = s->present[0];
        const RcNode *n = s->cur, *h;
        const RcInflight *f;
        const RcVolume *v = s->vol;
        const RcSpec *spec = p->spec;
        RcAction *a;

        f = s->inflight[RC_INFLIGHT_FENCE];
        if (f && streq_ptr(f->instance_id, i->id)) {
                slot_wait(s, RC_WAIT_IN_FLIGHT, true, s->lid, "%s: terminate of %s sent %llus ago: waiting for it to end.",
                          s->lid, i->id, secs(age(p, f->since_usec)));
                return;
        }

        if (n && s->cur_other) {
                /* e.g. the engine left and joined again: a stale node with the same label. */
                if (!(n->state == RC_NODE_READY && n->reachability == RC_REACH_REACHABLE)) {
                        slot_step(s, RC_ACTION_REPORT, false, s->lid,
                                  "%s: nodes %s and %s both carry instance %s's label and %s is not healthy: not fencing; an operator must decide.",
                                  s->lid, n->id, s->cur_other->id, i->id, n->id);
                        return;
                }
                plan_add(p, RC_ACTION_REPORT, s->lid,
                         "%s: node %s also carries instance %s's label (a stale node of this host?): not touched.", s->lid,
                         s->cur_other->id, i->id);
        }

        /* Fencing only through the node whose engine label names this very instance. */
        if (n && n->state == RC_NODE_DOWN && n->reachability == RC_REACH_UNREACHABLE) {
                uint64_t bad_since = node_bad_since(p, n), bad = age(p, bad_since);

                if (bad_since != 0 && bad >= spec->grace_usec &&
                    (i->launch_usec == 0 || wall_age(p, i->launch_usec) >= spec->grace_usec)) {
                        a = slot_step(s, RC_ACTION_FENCE, false, s->lid,
                                      "%s: node %s has been Down and Unreachable for %llus (GraceSec %llus) while %s runs: terminating it.",
                                      s->lid, n->id, secs(bad), secs(spec->grace_usec), i->id);
                        a->instance_id = i->id;
                        a->node_id = n->id;
                        return;
                }
                if (bad_since != 0 && bad >= spec->grace_usec)
                        slot_wait(s, RC_WAIT_GRACE, false, s->lid,
                                  "%s: node %s is Down and Unreachable but instance %s is up only %llus: not fenced before %llus.",
                                  s->lid, n->id, i->id, secs(wall_age(p, i->launch_usec)), secs(spec->grace_usec));
                else
                        slot_wait(s, RC_WAIT_GRACE, false, s->lid,
                                  "%s: node %s Down and Unreachable for %llus: fenced once that lasts %llus.", s->lid,
                                  n->id, secs(bad), secs(spec->grace_usec));
                return;
        }

        if (!v) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: instance %s runs but no intact volume is tagged for it: not touched.", s->lid, i->id);
                return;
        }
        if (v->state == RC_VOLUME_CREATING) {
                slot_wait(s, RC_WAIT_EC2, true, s->lid, "%s: volume %s is being created.", s->lid, v->id);
                return;
        }
        if (v->state == RC_VOLUME_AVAILABLE && v->n_attached == 0) {
                f = s->inflight[RC_INFLIGHT_ATTACH];
                if (f && streq_ptr(f->instance_id, i->id)) {
                        slot_wait(s, RC_WAIT_IN_FLIGHT, true, s->lid, "%s: attach of %s to %s sent %llus ago.", s->lid, v->id,
                                  i->id, secs(age(p, f->since_usec)));
                        return;
                }
                if (!launched_for_seat(p, s, v, i)) {
                        slot_step(s, RC_ACTION_REPORT, false, s->lid,
                                  "%s: instance %s runs at its address with its tags, but this cluster did not launch it for it (ClientToken %s): not attaching volume %s.",
                                  s->lid, i->id, i->client_token ?: "none", v->id);
                        return;
                }
                a = slot_step(s, RC_ACTION_ATTACH_VOLUME, true, s->lid, "%s: instance %s runs: attaching its volume %s.",
                              s->lid, i->id, v->id);
                a->instance_id = i->id;
                a->volume_id = v->id;
                return;
        }
        if (v->n_attached > 0 && !attached_to(v, i->id)) {
                slot_wait(s, RC_WAIT_EC2, true, s->lid, "%s: volume %s is attached to %s, not to its instance %s.",
                          s->lid, v->id, first_attachment(v), i->id);
                return;
        }

        h = n ?: s->unlabelled;
        if (!h && i->launch_usec != 0 && wall_age(p, i->launch_usec) >= (spec->join_timeout_usec ?: DEFAULT_JOIN_TIMEOUT_USEC)) {
                /* Its recovery failed (the host never came up in the swarm): say so, and
                 * stop holding back the other managers for it. */
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: instance %s has run with volume %s for %llus and its node never came up: look at the host.",
                          s->lid, i->id, v->id, secs(wall_age(p, i->launch_usec)));
                return;
        }
        if (!h) {
                slot_wait(s, RC_WAIT_NODE, true, s->lid,
                          "%s: instance %s runs with volume %s: waiting for its node (up %llus).", s->lid, i->id, v->id,
                          secs(wall_age(p, i->launch_usec)));
                return;
        }
        if (h->state == RC_NODE_READY && h->reachability == RC_REACH_REACHABLE) {
                uint64_t healthy_since = node_healthy_since(p, h), ok = age(p, healthy_since);

                if (!v->has_state && h->manager && attached_to(v, i->id)) {
                        /* Its host has joined (or inited) on this volume: from now on it holds
                         * swarm state, and quorum-loss mode may re-create the seat on it. Not
                         * stable yet: still busy (the others wait as before); stable: marked
                         * beside whatever another seat does (slot_change()). */
                        a = slot_step(s, RC_ACTION_MARK_VOLUME, !(healthy_since != 0 && ok >= spec->stable_usec), s->lid,
                                      "%s: node %s is a Ready, Reachable manager on instance %s with volume %s: marking the volume as holding swarm state.",
                                      s->lid, h->id, i->id, v->id);
                        a->volume_id = v->id;
                        a->instance_id = i->id;
                        a->node_id = h->id;
                        return;
                }

                if (healthy_since != 0 && ok >= spec->stable_usec)
                        return; /* healthy */
                slot_wait(s, RC_WAIT_STABLE, true, s->lid, "%s: node %s is Ready and Reachable for %llus of %llus.",
                          s->lid, h->id, secs(ok), secs(spec->stable_usec));
                return;
        }
        if (h->state == RC_NODE_UNKNOWN && h->reachability == RC_REACH_REACHABLE && node_healthy_since(p, h) != 0 &&
            age(p, node_healthy_since(p, h)) >= spec->stable_usec)
                /* Right after an election the new leader has not heard from the node yet
                 * ("unknown") while Raft reaches it: stable as it was, not a recovery. */
                return;
        if (h->state == RC_NODE_DOWN && h->reachability == RC_REACH_REACHABLE) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: node %s is Down but Reachable: an anomaly to look at, never a reason to fence.", s->lid, h->id);
                return;
        }
        if (h->state == RC_NODE_DOWN && h->reachability == RC_REACH_UNREACHABLE) {
                slot_wait(s, RC_WAIT_SAFETY, false, s->lid,
                          "%s: node %s is Down and Unreachable but has no instance label: not fencing %s.", s->lid, h->id,
                          i->id);
                return;
        }
        slot_wait(s, RC_WAIT_NODE, true, s->lid, "%s: node %s is %s, %s.", s->lid, h->id, node_state_name(h->state),
                  reach_name(h->reachability));
}

static void eval_manager(Planner *p, Slot *s) {
        const RcInstance *i = s->present[0];

        if (s->n_present > 1) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: %zu live instances claim it (%s, %s): touching neither; an operator must decide.", s->lid,
                          s->n_present, s->present[0]->id, s->present[1]->id);
                return;
        }
        if (s->n_good_vol > 1) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: %zu intact volumes are tagged for it: not choosing one; an operator must decide.", s->lid,
                          s->n_good_vol);
                return;
        }
        if (s->n_present == 0) {
                eval_missing(p, s);
                return;
        }
        if (i->private_ip && !streq(i->private_ip, s->lid)) {
                slot_step(s, RC_ACTION_REPORT, false, s->lid,
                          "%s: instance %s is tagged with it but has private IP %s: drifted tags, not touched.", s->lid,
                          i->id, i->private_ip);
                return;
        }
        switch (i->state) {
        case RC_INSTANCE_RUNNING:
                eval_running(p, s);
                return;
        case RC_INSTANCE_STOPPED:
                slot_wait(s, RC_WAIT_STOPPED, false, s->lid,
                          "%s: instance %s is stopped (not by swarmkeeper): present, so nothing is launched.", s->lid, i->id);
                return;
        default:
                slot_wait(s, RC_WAIT_EC2, true, s->lid, "%s: instance %s is %s: present, not missing.", s->lid, i->id,
                          instance_state_name(i->state));
                return;
        }
}

/* Does this manager's step change the cluster? A MARK_VOLUME (a tag saying the volume has
 * held state, and the node's record of its volume) is bookkeeping on a healthy seat: it
 * neither takes nor waits for the one-at-a-time slot, so every seat is marked in one pass. */
static bool slot_change(const Slot *s) {
        return s->has_step && is_change(s->step.kind) && s->step.kind != RC_ACTION_MARK_VOLUME;
}

/* Has this manager held the slot past Reconcile.SeatDeadlineSec? (Only a seat that still
 * needs something: a settled one has no step.) */
static bool slot_stuck(const Planner *p, const Slot *s) {
        uint64_t since = s->seat ? s->seat->busy_since_usec : 0;

        return s->has_step && (s->busy || slot_change(s)) && since != 0 &&
               age(p, since) >= (p->spec->seat_deadline_usec ?: DEFAULT_SEAT_DEADLINE_USEC);
}

void plan_managers(Planner *p) {
        const Slot *cur = NULL;

        for (size_t k = 0; k < p->spec->n_managers; k++)
                eval_manager(p, &p->slots[k]);

        /* One manager at a time: the first one in progress, else the first needing a change;
         * a stuck one only when no other wants the slot (its retries go on, slowly). */
        for (size_t k = 0; k < p->spec->n_managers && !cur; k++)
                if (p->slots[k].has_step && p->slots[k].busy && !slot_stuck(p, &p->slots[k]))
                        cur = &p->slots[k];
        for (size_t k = 0; k < p->spec->n_managers && !cur; k++)
                if (slot_change(&p->slots[k]) && !slot_stuck(p, &p->slots[k]))
                        cur = &p->slots[k];
        for (size_t k = 0; k < p->spec->n_managers && !cur; k++)
                if (p->slots[k].has_step && p->slots[k].busy)
                        cur = &p->slots[k];

        for (size_t k = 0; k < p->spec->n_managers; k++) {
                Slot *s = &p->slots[k];
                bool pending;

                if (!s->has_step)
                        continue;
                pending = s->busy || slot_change(s);
                if (slot_stuck(p, s)) {
                        RcAction *a = plan_add(p, RC_ACTION_REPORT, s->lid,
                                               "%s: its recovery has not progressed for %llus (Reconcile.SeatDeadlineSec %llus): %s other managers may be repaired first.",
                                               s->lid, secs(age(p, s->seat->busy_since_usec)),
                                               secs(p->spec->seat_deadline_usec ?: DEFAULT_SEAT_DEADLINE_USEC),
                                               cur == s ? "retrying it, as no other manager needs the slot;" : "no longer holding the slot;");
                        a->seat_pending = a->seat_stuck = true;
                }
                if (slot_change(s) && !cur)
                        cur = s;
                if (slot_change(s) && cur != s) {
                        RcAction *a = plan_wait(p, RC_WAIT_ONE_AT_A_TIME, s->lid, "%s: waits for %s (one manager at a time): %s",
                                               s->lid, cur->lid, rc_action_kind_to_string(s->step.kind));
                        a->seat_pending = true;
                        continue;
                }
                s->step.holds_slot = cur == s;
                s->step.seat_pending = pending;
                plan_push(p, &s->step);
        }
}

/* ---- modes ------------------------------------------------------------------------------- */

void plan_quorum_loss(Planner *p) {
        for (size_t k = 0; k < p->spec->n_managers; k++) {
                Slot *s = &p->slots[k];
                const RcInstance *i = s->present[0], *old = s->newest_terminated;
                const RcInflight *f = s->inflight[RC_INFLIGHT_LAUNCH];
                const RcVolume *v = s->vol;
                const RcSubnet *sub;
                char tok[RC_CLIENT_TOKEN_MAX + 1];
                uint64_t gen = 0;
                RcAction *a;

                if (s->n_present > 1) {
                        plan_add(p, RC_ACTION_REPORT, s->lid, "%s: %zu live instances claim it (%s, %s): touching neither.",
                                 s->lid, s->n_present, s->present[0]->id, s->present[1]->id);
                        continue;
                }
                if (s->n_present == 1) {
                        if (i->state == RC_INSTANCE_RUNNING && s->n_good_vol == 1 && v->state == RC_VOLUME_AVAILABLE &&
                            v->n_attached == 0 && (!i->private_ip || streq(i->private_ip, s->lid)) &&
                            !launched_for_seat(p, s, v, i))
                                plan_add(p, RC_ACTION_REPORT, s->lid,
                                         "%s: quorum lost; instance %s runs with its tags, but this cluster did not launch it for it (ClientToken %s): not attaching volume %s.",
                                         s->lid, i->id, i->client_token ?: "none", v->id);
                        else if (i->state == RC_INSTANCE_RUNNING && s->n_good_vol == 1 && v->state == RC_VOLUME_AVAILABLE &&
                            v->n_attached == 0 && (!i->private_ip || streq(i->private_ip, s->lid))) {
                                a = plan_add(p, RC_ACTION_ATTACH_VOLUME, s->lid,
                                             "%s: quorum lost; instance %s runs: attaching its volume %s.", s->lid, i->id,
                                             v->id);
                                a->instance_id = i->id;
                                a->volume_id = v->id;
                        } else if (i->state != RC_INSTANCE_RUNNING)
                                plan_wait(p, RC_WAIT_EC2, s->lid, "%s: quorum lost; instance %s is %s.", s->lid, i->id,
                                         instance_state_name(i->state));
                        continue;
                }
                if (f && !(f->instance_id && listed_terminated(p, f->instance_id))) {
                        plan_wait(p, RC_WAIT_IN_FLIGHT, s->lid, "%s: quorum lost; launched %s %llus ago, not listed yet.",
                                 s->lid, f->instance_id ?: "an instance", secs(age(p, f->since_usec)));
                        continue;
                }
                if (s->n_good_vol != 1) {
                        plan_wait(p, RC_WAIT_QUORUM_LOSS, s->lid,
                                 "%s: quorum lost; its volume is %s: replacing it needs a leader.", s->lid,
                                 s->n_good_vol ? "ambiguous" : "lost");
                        continue;
                }
                if (v->state != RC_VOLUME_AVAILABLE || v->n_attached > 0) {
                        plan_wait(p, RC_WAIT_EC2, s->lid, "%s: quorum lost; volume %s is %s: waiting.", s->lid, v->id,
                                 volume_state_name(v->state));
                        continue;
                }
                if (!v->has_state) {
                        /* e.g. created for a fresh join whose host never joined: nothing to
                         * bring back, and a host on it could only start another swarm */
                        plan_wait(p, RC_WAIT_QUORUM_LOSS, s->lid,
                                 "%s: quorum lost; volume %s has never held swarm state: re-creating it needs a leader.",
                                 s->lid, v->id);
                        continue;
                }
                sub = slot_subnet(p, s, v);
                if (!sub) {
                        plan_push(p, &s->step);
                        continue;
                }
                if (step_generation(p, s, v, &gen, tok)) {
                        plan_push(p, &s->step);
                        continue;
                }
                if (old)
                        a = plan_add(p, RC_ACTION_LAUNCH_MANAGER, s->lid,
                                     "%s: quorum lost; instance %s is terminated: re-creating it with the same IP and volume %s.",
                                     s->lid, old->id, v->id);
                else
                        a = plan_add(p, RC_ACTION_LAUNCH_MANAGER, s->lid,
                                     "%s: quorum lost; no instance is listed: re-creating it with the same IP and volume %s.",
                                     s->lid, v->id);
                a->private_ip = s->lid;
                a->subnet_id = sub->id;
                a->availability_zone = sub->availability_zone;
                a->volume_id = v->id;
                a->replaces = old ? old->id : v->id; /* for the logs: the token derives from the generation */
                a->join_fresh = false;
                (void) snprintf(a->slot, sizeof(a->slot), "%s", s->lid);
                a->volume_generation = gen;
                memcpy(a->client_token, tok, sizeof(a->client_token));
        }
}
