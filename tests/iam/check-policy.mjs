#!/usr/bin/node
// SPDX-License-Identifier: MIT
// The managers' IAM policy (conf/aws/iam-policy.json), as rendered for a sample stack, put
// through a real IAM policy evaluation engine (@cloud-copilot/iam-simulate, pinned in
// tests/iam/package.json, installed by scripts/setup-deps.sh with `npm ci`): every call the
// agent makes is allowed on the resources it makes it on, and each abuse a stolen manager
// credential (or a worker that had the managers' role, before issue 14) could try is denied.
//
// EC2 authorises a call once per resource it touches (RunInstances: the instance, its root
// volume, the image, the subnet, the security group, the network interface, the launch
// template, a key pair; iam:PassRole for an instance profile): a case is allowed when every
// one of its requests is, denied when at least one is.
//
// SK_IAM_POLICY=path evaluates another policy file (e.g. the one before issue 14) and prints
// the same table. Exit 77 (skip) when the engine is not installed (scripts/ci-test.sh counts
// a skip as a failure under CI=true; a package build's clean copy of the tree has none).
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const src = process.env.SK_SOURCE_DIR || join(here, '..', '..')
const policyPath = process.env.SK_IAM_POLICY || join(src, 'conf', 'aws', 'iam-policy.json')

let runSimulation
try {
  ;({ runSimulation } = await import('@cloud-copilot/iam-simulate'))
} catch (e) {
  console.error(`the IAM policy engine is not installed (scripts/setup-deps.sh runs npm ci in tests/iam): ${e.message}`)
  process.exit(77)
}

// ------------------------------------------------------------------ the sample stack
const P = 'aws'
const REGION = 'eu-west-1'
const ACCOUNT = '111122223333'
const CLUSTER = 'prod'
const SUBNETS = ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2', 'subnet-0ccccccccccccccc3']
const IMAGES = ['ami-0a1a1a1a1a1a1a1a1', 'ami-0b2b2b2b2b2b2b2b2']
const SG = 'sg-0123456789abcdef0'
const VPC = 'vpc-0fedcba9876543210'
// the values CloudFormation substitutes for conf/aws/iam-policy.json's ${…} placeholders; a
// string that is one placeholder of a list parameter stands for the list
const params = {
  'AWS::Partition': P,
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  ClusterName: CLUSTER,
  Subnets: SUBNETS,
  AllowedImageIds: IMAGES,
  SecurityGroup: SG,
  VpcId: VPC,
  VolumeSize: '50'
}

function render(v) {
  if (Array.isArray(v)) return v.flatMap((x) => {
    const r = render(x)
    return Array.isArray(r) && typeof x === 'string' ? r : [r]
  })
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [render(k), render(x)]))
  if (typeof v !== 'string') return v
  const whole = v.match(/^\$\{([^}]+)\}$/)
  if (whole && Array.isArray(params[whole[1]])) return params[whole[1]]
  return v.replace(/\$\{([^}]+)\}/g, (_, name) => {
    if (!(name in params) || Array.isArray(params[name])) throw new Error(`policy: unknown placeholder \${${name}} in "${v}"`)
    return params[name]
  })
}

const policy = render(JSON.parse(readFileSync(policyPath, 'utf8')))

// ------------------------------------------------------------------ requests
const ec2 = (type, id, region = REGION) => `arn:${P}:ec2:${region}:${type === 'image' ? '' : ACCOUNT}:${type}/${id}`
const MANAGER_ROLE = `arn:${P}:iam::${ACCOUNT}:role/swarmkeeper-${CLUSTER}-${REGION}`
const MANAGER_PROFILE = `arn:${P}:iam::${ACCOUNT}:instance-profile/swarmkeeper-${CLUSTER}-${REGION}`
const PRINCIPAL = `arn:${P}:sts::${ACCOUNT}:assumed-role/swarmkeeper-${CLUSTER}-${REGION}/i-0leader000000000`
const MANAGER_LT = 'lt-0aaaaaaaaaaaaaaaa'
const WORKER_LT = 'lt-0bbbbbbbbbbbbbbbb'
const NEW_INSTANCE = 'i-0new0000000000000'

function req(action, resource, ctx = {}) {
  return { action, resource, ctx: { 'ec2:Region': REGION, ...ctx } }
}

function tagCtx(tags) {
  const c = { 'aws:TagKeys': Object.keys(tags) }
  for (const [k, v] of Object.entries(tags)) c[`aws:RequestTag/${k}`] = v
  return c
}

function resTags(tags) {
  const c = {}
  for (const [k, v] of Object.entries(tags)) {
    c[`aws:ResourceTag/${k}`] = v
    c[`ec2:ResourceTag/${k}`] = v
  }
  return c
}

// one RunInstances the way agent/act.c's act_launch() sends it (ec2_run_instances():
// MetadataOptions HttpTokens=required, HttpPutResponseHopLimit=1), and what EC2 authorises
function launch(o = {}) {
  const manager = (o.role ?? 'manager') === 'manager'
  const subnet = o.subnet ?? SUBNETS[1]
  const image = o.image ?? IMAGES[0]
  const profile = 'profile' in o ? o.profile : manager ? MANAGER_PROFILE : null
  const tags = o.tags ?? (manager
    ? { 'swarmkeeper:cluster': CLUSTER, 'swarmkeeper:role': 'manager', 'swarmkeeper:logical-id': '10.0.2.10' }
    : { 'swarmkeeper:cluster': CLUSTER, 'swarmkeeper:role': 'worker' })
  const volTags = { 'swarmkeeper:cluster': CLUSTER, 'swarmkeeper:role': tags['swarmkeeper:role'] }
  const lt = manager ? MANAGER_LT : WORKER_LT
  const inst = {
    ...tagCtx(tags),
    'ec2:MetadataHttpTokens': o.httpTokens ?? 'required',
    'ec2:MetadataHttpPutResponseHopLimit': o.hopLimit ?? '1',
    'ec2:MetadataHttpEndpoint': 'enabled',
    'ec2:InstanceType': 't3.medium',
    'ec2:LaunchTemplate': ec2('launch-template', lt),
    'ec2:IsLaunchTemplateResource': 'false'
  }
  if (profile) inst['ec2:InstanceProfile'] = profile
  const vpc = ec2('vpc', o.vpc ?? VPC)
  const eni = { 'ec2:Subnet': ec2('subnet', subnet), 'ec2:Vpc': vpc, ...tagCtx({}) }
  delete eni['aws:TagKeys']
  if (o.eni) eni['ec2:NetworkInterfaceID'] = o.eni
  const r = [
    req('ec2:RunInstances', ec2('instance', NEW_INSTANCE), inst),
    req('ec2:RunInstances', ec2('volume', 'vol-0newroot00000000'), { ...tagCtx(volTags), 'ec2:VolumeSize': '8', 'ec2:VolumeType': 'gp3' }),
    req('ec2:RunInstances', ec2('image', image), { 'ec2:ImageID': image, 'ec2:RootDeviceType': 'ebs' }),
    req('ec2:RunInstances', ec2('subnet', subnet), { 'ec2:SubnetID': subnet, 'ec2:Vpc': vpc }),
    req('ec2:RunInstances', ec2('network-interface', o.eni ?? 'eni-0new000000000000'), eni),
    req('ec2:RunInstances', ec2('launch-template', lt), resTags({ 'swarmkeeper:cluster': CLUSTER }))
  ]
  for (const sg of o.sgs ?? [SG])
    r.push(req('ec2:RunInstances', ec2('security-group', sg), { 'ec2:SecurityGroupID': sg, 'ec2:Vpc': vpc }))
  if (o.keyName) r.push(req('ec2:RunInstances', ec2('key-pair', o.keyName), { 'ec2:KeyPairName': o.keyName }))
  // tag-on-create: EC2 authorises CreateTags with ec2:CreateAction for each tagged resource
  r.push(req('ec2:CreateTags', ec2('instance', NEW_INSTANCE), { ...tagCtx(tags), 'ec2:CreateAction': 'RunInstances' }))
  r.push(req('ec2:CreateTags', ec2('volume', 'vol-0newroot00000000'), { ...tagCtx(volTags), 'ec2:CreateAction': 'RunInstances' }))
  if (profile) {
    const role = o.passRole ?? (profile === MANAGER_PROFILE ? MANAGER_ROLE : profile.replace(':instance-profile/', ':role/'))
    r.push(req('iam:PassRole', role, { 'iam:PassedToService': 'ec2.amazonaws.com', 'iam:AssociatedResourceArn': ec2('instance', NEW_INSTANCE) }))
  }
  return r
}

// agent/act.c's act_create_volume(): the seat's volume, tagged, Volume.SizeGiB=,
// Volume.Type=, Volume.Encrypted= as the stack writes them (50 GiB gp3 encrypted)
function createVolume(o = {}) {
  const tags = o.tags ?? { 'swarmkeeper:cluster': CLUSTER, 'swarmkeeper:logical-id': '10.0.2.10', 'swarmkeeper:role': 'manager' }
  const vol = ec2('volume', 'vol-0newdata00000000')
  const ctx = { ...tagCtx(tags), 'ec2:VolumeSize': o.size ?? '50', 'ec2:VolumeType': 'gp3', 'ec2:Encrypted': o.encrypted ?? 'true', 'ec2:AvailabilityZone': `${REGION}b` }
  return [req('ec2:CreateVolume', vol, ctx), req('ec2:CreateTags', vol, { ...tagCtx(tags), 'ec2:CreateAction': 'CreateVolume' })]
}

const CLUSTER_MANAGER = resTags({ 'swarmkeeper:cluster': CLUSTER, 'swarmkeeper:role': 'manager', 'swarmkeeper:logical-id': '10.0.2.10' })
const CLUSTER_WORKER = resTags({ 'swarmkeeper:cluster': CLUSTER, 'swarmkeeper:role': 'worker' })
const CLUSTER_VOLUME = resTags({ 'swarmkeeper:cluster': CLUSTER, 'swarmkeeper:logical-id': '10.0.2.10' })
const FOREIGN = resTags({ 'swarmkeeper:cluster': 'other', 'swarmkeeper:role': 'manager', 'swarmkeeper:logical-id': '10.0.2.10' })
const inst = (id, tags) => ({ ...tags, 'ec2:InstanceID': id })
const vol = (id, tags) => ({ ...tags, 'ec2:VolumeID': id, 'ec2:Encrypted': 'true', 'ec2:VolumeSize': '50' })

function attach(volTags, instTags) {
  return [req('ec2:AttachVolume', ec2('volume', 'vol-0data000000000a'), vol('vol-0data000000000a', volTags)),
          req('ec2:AttachVolume', ec2('instance', 'i-0target00000000a'), inst('i-0target00000000a', instTags))]
}

function createTags(volTags, tags) {
  return [req('ec2:CreateTags', ec2('volume', 'vol-0data000000000a'), { ...volTags, ...tagCtx(tags) })]
}

// ------------------------------------------------------------------ the cases
const cases = [
  // what the agent does
  ['allow', 'DescribeInstances (the leader, prepare, identity)', [req('ec2:DescribeInstances', '*')]],
  ['allow', 'DescribeVolumes (by tag and by VolumeId)', [req('ec2:DescribeVolumes', '*')]],
  ['allow', 'DescribeSubnets', [req('ec2:DescribeSubnets', '*')]],
  ['allow', 'RunInstances: a manager from the managers\' template with the managers\' profile', launch()],
  ['allow', 'RunInstances: a manager in the first subnet from the second allowed image', launch({ subnet: SUBNETS[0], image: IMAGES[1] })],
  ['allow', 'RunInstances: a worker from the workers\' template without a profile', launch({ role: 'worker', subnet: SUBNETS[2] })],
  ['allow', 'CreateVolume: encrypted, 50 GiB, tagged for its seat', createVolume()],
  ['allow', 'AttachVolume: the cluster\'s volume to the cluster\'s manager', attach(CLUSTER_VOLUME, CLUSTER_MANAGER)],
  ['allow', 'TerminateInstances: fence the cluster\'s manager', [req('ec2:TerminateInstances', ec2('instance', 'i-0manager0000000a'), inst('i-0manager0000000a', CLUSTER_MANAGER))]],
  ['allow', 'TerminateInstances: scale down the cluster\'s worker', [req('ec2:TerminateInstances', ec2('instance', 'i-0worker00000000a'), inst('i-0worker00000000a', CLUSTER_WORKER))]],
  ['allow', 'CreateTags: swarmkeeper:has-state and swarmkeeper:generation on the cluster\'s volume',
    createTags(CLUSTER_VOLUME, { 'swarmkeeper:has-state': 'yes', 'swarmkeeper:generation': '3' })],
  ['allow', 'CreateTags: swarmkeeper:generation alone on the cluster\'s volume', createTags(CLUSTER_VOLUME, { 'swarmkeeper:generation': '4' })],

  // what a stolen credential would do
  ['deny', 'TerminateInstances: an untagged instance', [req('ec2:TerminateInstances', ec2('instance', 'i-0foreign0000000a'), inst('i-0foreign0000000a', {}))]],
  ['deny', 'TerminateInstances: another cluster\'s instance', [req('ec2:TerminateInstances', ec2('instance', 'i-0foreign0000000a'), inst('i-0foreign0000000a', FOREIGN))]],
  ['deny', 'AttachVolume: another cluster\'s volume to our manager', attach(FOREIGN, CLUSTER_MANAGER)],
  ['deny', 'AttachVolume: our manager\'s volume to an untagged instance', attach(CLUSTER_VOLUME, {})],
  ['deny', 'AttachVolume: our manager\'s volume to our worker', attach(CLUSTER_VOLUME, CLUSTER_WORKER)],
  ['deny', 'DetachVolume: our manager\'s volume (the agent never detaches)',
    [req('ec2:DetachVolume', ec2('volume', 'vol-0data000000000a'), vol('vol-0data000000000a', CLUSTER_VOLUME)),
     req('ec2:DetachVolume', ec2('instance', 'i-0manager0000000a'), inst('i-0manager0000000a', CLUSTER_MANAGER))]],
  ['deny', 'RunInstances: an image not in AllowedImageIds', launch({ image: 'ami-0eeeeeeeeeeeeeee1' })],
  ['deny', 'RunInstances: into another subnet', launch({ subnet: 'subnet-0ddddddddddddddd4' })],
  ['deny', 'RunInstances: with another security group', launch({ sgs: ['sg-0badbadbadbadbad0'] })],
  ['deny', 'RunInstances: with an extra security group', launch({ sgs: [SG, 'sg-0badbadbadbadbad0'] })],
  ['deny', 'RunInstances: with a key pair (the stack configures none)', launch({ keyName: 'attacker' })],
  ['deny', 'RunInstances: with an existing network interface', launch({ eni: 'eni-0exist000000000a' })],
  ['deny', 'RunInstances: IMDSv1 allowed (HttpTokens optional)', launch({ httpTokens: 'optional' })],
  ['deny', 'RunInstances: IMDS hop limit 2 (containers reach IMDS)', launch({ hopLimit: '2' })],
  ['deny', 'RunInstances: a worker with IMDS hop limit 2', launch({ role: 'worker', hopLimit: '2' })],
  ['deny', 'RunInstances: a tag key that is not ours', launch({ tags: { 'swarmkeeper:cluster': CLUSTER, 'swarmkeeper:role': 'manager', 'swarmkeeper:logical-id': '10.0.2.10', Owner: 'x' } })],
  ['deny', 'RunInstances: without the cluster tag', launch({ tags: { 'swarmkeeper:role': 'manager', 'swarmkeeper:logical-id': '10.0.2.10' } })],
  ['deny', 'RunInstances: a worker carrying the managers\' profile', launch({ role: 'worker', profile: MANAGER_PROFILE })],
  ['deny', 'RunInstances: a manager with another instance profile', launch({ profile: `arn:${P}:iam::${ACCOUNT}:instance-profile/admin` })],
  ['deny', 'iam:PassRole: another role', [req('iam:PassRole', `arn:${P}:iam::${ACCOUNT}:role/admin`, { 'iam:PassedToService': 'ec2.amazonaws.com' })]],
  ['deny', 'iam:PassRole: the managers\' role to another service', [req('iam:PassRole', MANAGER_ROLE, { 'iam:PassedToService': 'lambda.amazonaws.com' })]],
  ['deny', 'CreateVolume: unencrypted', createVolume({ encrypted: 'false' })],
  ['deny', 'CreateVolume: 16 TiB', createVolume({ size: '16384' })],
  ['deny', 'CreateVolume: without the cluster tag', createVolume({ tags: { 'swarmkeeper:logical-id': '10.0.2.10', 'swarmkeeper:role': 'manager' } })],
  ['deny', 'CreateTags: a foreign key on the cluster\'s volume', createTags(CLUSTER_VOLUME, { Owner: 'x' })],
  ['deny', 'CreateTags: re-label the cluster\'s volume for another seat', createTags(CLUSTER_VOLUME, { 'swarmkeeper:logical-id': '10.0.3.10' })],
  ['deny', 'CreateTags: claim another cluster\'s volume', createTags(FOREIGN, { 'swarmkeeper:cluster': CLUSTER })],
  ['deny', 'CreateTags: claim an untagged instance for the cluster',
    [req('ec2:CreateTags', ec2('instance', 'i-0foreign0000000a'), tagCtx({ 'swarmkeeper:cluster': CLUSTER, 'swarmkeeper:role': 'manager' }))]],
  ['deny', 'CreateTags: has-state on another cluster\'s volume', createTags(FOREIGN, { 'swarmkeeper:has-state': 'yes' })]
]

// ------------------------------------------------------------------ run
async function decide(r) {
  const res = await runSimulation({
    identityPolicies: [{ name: 'swarmkeeper', policy }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: { action: r.action, principal: PRINCIPAL, resource: { resource: r.resource, accountId: ACCOUNT }, contextVariables: r.ctx }
  }, {})
  if (res.resultType === 'error') throw new Error(`${r.action} ${r.resource}: the engine refused the request: ${JSON.stringify(res.errors)}`)
  return res.overallResult
}

let failed = 0
const exercised = new Set()
for (const [want, name, reqs] of cases) {
  const denied = []
  for (const r of reqs) {
    const d = await decide(r)
    if (d !== 'Allowed') denied.push(`${r.action} on ${r.resource.replace(/^arn:[^:]*:[^:]*:[^:]*:[^:]*:/, '')} (${d})`)
  }
  const got = denied.length ? 'deny' : 'allow'
  if (got === 'allow') for (const r of reqs) exercised.add(r.action)
  const ok = got === want
  if (!ok) failed++
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${want === 'allow' ? 'allowed' : 'denied '} ${name}: ${got === 'allow' ? 'ALLOWED' : 'DENIED by ' + denied.join(', ')}`)
}
// every action the policy allows is one a case shows the agent needs
const granted = new Set(policy.Statement.flatMap((s) => [].concat(s.Action)))
for (const a of granted) {
  const ok = exercised.has(a)
  if (!ok) failed++
  console.log(`${ok ? 'ok  ' : 'FAIL'} the policy's ${a} is one an allowed case needs`)
}
console.log(`${cases.length} cases, ${failed} failed (policy ${policyPath}, @cloud-copilot/iam-simulate)`)
process.exit(failed ? 1 : 0)
