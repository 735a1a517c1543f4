/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The Docker labels swarmkeeper owns, one spelling each for the writer and the reader.
 * Engine labels (daemon.json "labels", Description.Engine.Labels of a node): written by
 * engine_labels_for(), read by docker.c (logical id, instance id).
 * Node labels (Spec.Labels, kept in Raft): written and read by the reconciler and
 * docker.c. Operators' own labels (Engine.Labels=) may not use the namespace.
 */

#define SK_LABEL_NAMESPACE "swarmkeeper."

#define SK_LABEL_CLUSTER "swarmkeeper.cluster"         /* Cluster.Name */
#define SK_LABEL_ROLE "swarmkeeper.role"               /* manager | worker */
#define SK_LABEL_INSTANCE_ID "swarmkeeper.instance-id" /* the host's EC2 instance id */
#define SK_LABEL_LOGICAL_ID "swarmkeeper.logical-id"   /* a manager's seat (its fixed IP); none on workers */

#define SK_NODE_LABEL_VOLUME_ID "swarmkeeper.volume-id" /* the data volume the leader saw a manager run on */
