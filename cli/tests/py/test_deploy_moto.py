"""`smd-cli deploy apply | diff | delete | attach --apply` against moto on 127.0.0.1.

Run by scripts/test.sh under scripts/emulators.sh --only moto:
  SMD_CLI=target/debug/smd-cli .venv/bin/python cli/tests/py/test_deploy_moto.py

What this proves: the rendered template of the default deploy.toml goes through CloudFormation's
change-set API (create, describe, execute, delete) as smd-cli drives it; the resource types moto
implements are created with the properties the template sets, checked through their own APIs with
boto3 (Kinesis, S3, IAM, Lambda, Lambda versions, event source mapping, SQS); diff leaves the
stack untouched; after a key rotation a new edge package reaches the function (its code hash) and
the old version stays; delete removes
the stack; attach --apply updates a distribution through CloudFront's API with If-Match.

What it does not prove, plainly:
- moto never runs Lambda code: it stores the zips. The ingest zip here holds a placeholder
  `bootstrap` script, and nothing is invoked.
- moto 5.2.5 silently skips some resource types (the stack still completes): the test lists them
  and fails if that list changes. Glue, the CloudFront real-time log configuration and Athena are
  among them, so their properties are covered only by cfn-lint and the golden files.
- moto 5.2.5 keeps no stack Outputs for stacks created or updated through change sets (its
  create_stack computes them, execute_change_set does not), so the outputs are not checked here and
  attach gets the function version ARN by flag; cli/tests/deploy_cli.rs checks the Outputs section
  of the template.
- moto ignores StreamModeDetails and StreamEncryption of AWS::Kinesis::Stream (it builds streams
  from ShardCount and RetentionPeriodHours only).
- moto applies only BucketEncryption of AWS::S3::Bucket (public access block, ownership and
  lifecycle rules are not applied) and skips AWS::S3::BucketPolicy.
- moto does not replace AWS::Lambda::Version on update, so the new version number a new package
  gets on AWS (its Description changes, which requires replacement) is not observed here.
- moto ignores Architectures of AWS::Lambda::Function (reports x86_64 for the arm64 ingest).
- moto's CloudFront keeps path patterns and real-time log ARNs but drops
  LambdaFunctionAssociations (its DefaultCacheBehaviour always stores Quantity 0), so the function
  association of attach mode is covered by the committed get-distribution-config fixture
  (cli/tests/deploy_cli.rs), not here.
"""

import io
import json
import os
import pathlib
import subprocess
import sys
import urllib.request
import zipfile

import boto3

ROOT = pathlib.Path(__file__).resolve().parents[3]
CLI = os.environ.get("SMD_CLI", str(ROOT / "target" / "debug" / "smd-cli"))
ENDPOINT = os.environ.get("MOTO_ENDPOINT")
if not ENDPOINT:
    raise SystemExit("MOTO_ENDPOINT is not set: run this test under scripts/emulators.sh --only moto -- ...")
REGION = "us-east-1"
STACK = f"smd-deploy-test-{os.getpid()}"

# Resource types of the default template that moto 5.2.5 accepts in a template but does not create.
MOTO_SKIPS = {
    "AWS::S3::BucketPolicy",
    "AWS::CloudFront::RealtimeLogConfig",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::Athena::WorkGroup",
    "AWS::Athena::NamedQuery",
}


def client(service):
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=REGION)


def smd(*args, expect=0):
    out = subprocess.run([CLI, "--json", *args, "--endpoint", ENDPOINT, "--region", REGION],
                         capture_output=True, text=True)
    if out.returncode != expect:
        sys.stderr.write(out.stderr)
        raise AssertionError(f"smd-cli {' '.join(args)} exited {out.returncode}, expected {expect}")
    return (json.loads(out.stdout) if out.stdout.strip() else None), out.stderr


def edge_zip(tmp, marker):
    """The real Lambda@Edge package (smd-cli edge package over edge-wasm/pkg)."""
    keys = tmp / "keys.json"
    if not keys.exists():
        subprocess.run([CLI, "keys", "generate", "--out", str(keys)], check=True, capture_output=True)
    path = tmp / f"edge-{marker}.zip"
    out = subprocess.run([CLI, "edge", "package", "--keys", str(keys), "--out", str(path)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"smd-cli edge package failed (run scripts/build-edge.sh first): {out.stderr}")
    return path


def ingest_zip(tmp):
    """A zip with a `bootstrap` that moto stores and never runs (see the module docs)."""
    path = tmp / "ingest-lambda.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, "#!/bin/sh\n# placeholder: the test server stores Lambda code and never runs it\nexit 1\n")
    path.write_bytes(buf.getvalue())
    return path


def physical_ids():
    res = client("cloudformation").describe_stack_resources(StackName=STACK)["StackResources"]
    # moto lists the types it skips too, without a physical id.
    return {r["LogicalResourceId"]: (r["ResourceType"], r["PhysicalResourceId"]) for r in res if r.get("PhysicalResourceId")}


def check_created(template, edge_path):
    ids = physical_ids()
    wanted = {k: v["Type"] for k, v in template["Resources"].items()}
    # moto publishes the Lambda version but reports no physical id for it; checked below through
    # the Lambda API instead.
    skipped = {t for k, t in wanted.items() if k not in ids and t != "AWS::Lambda::Version"}
    print(f"moto created {len(ids) + 1} of {len(wanted)} resources; silently skipped types: {sorted(skipped)}")
    assert skipped == MOTO_SKIPS, f"moto's skipped types changed: {sorted(skipped)}"

    # Kinesis
    stream_name = ids["LogStream"][1]
    summary = client("kinesis").describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
    assert summary["RetentionPeriodHours"] == 24, summary
    # moto 5.2.5 builds CloudFormation streams from ShardCount and RetentionPeriodHours only.
    print(f"note: moto ignores StreamModeDetails/StreamEncryption (reports {summary['StreamModeDetails']['StreamMode']}, {summary.get('EncryptionType')})")

    # S3: the lake bucket
    s3 = client("s3")
    lake = ids["LakeBucket"][1]
    enc = s3.get_bucket_encryption(Bucket=lake)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", enc
    # moto 5.2.5 applies only BucketEncryption and Tags of AWS::S3::Bucket (and skips
    # AWS::S3::BucketPolicy): the public access block, ownership controls and lifecycle rules are
    # covered by cfn-lint and the golden templates, not here.
    print("note: moto ignores PublicAccessBlockConfiguration, OwnershipControls, LifecycleConfiguration of AWS::S3::Bucket")

    # S3: the artifacts, content-addressed
    artifacts = f"smd-artifacts-123456789012-{REGION}"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=artifacts).get("Contents", [])]
    assert any(k.endswith("/edge.zip") or k.endswith(f"/{edge_path.name}") for k in keys), keys
    assert any(k.endswith("/ingest-lambda.zip") for k in keys), keys

    # IAM: trust and least privilege
    iam = client("iam")
    edge_role = iam.get_role(RoleName=ids["EdgeFunctionRole"][1])["Role"]
    principals = edge_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    assert sorted(principals) == ["edgelambda.amazonaws.com", "lambda.amazonaws.com"], principals
    rt_role = iam.get_role(RoleName=ids["RealtimeLogRole"][1])["Role"]
    assert rt_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] == ["cloudfront.amazonaws.com"]
    ingest_role = ids["IngestFunctionRole"][1]
    names = iam.list_role_policies(RoleName=ingest_role)["PolicyNames"]
    doc = iam.get_role_policy(RoleName=ingest_role, PolicyName=names[0])["PolicyDocument"]
    if isinstance(doc, str):
        # moto returns inline policies created by CloudFormation as a Python repr.
        import ast
        doc = ast.literal_eval(doc)
    actions = sorted(a for s in doc["Statement"] for a in s["Action"])
    assert "s3:PutObject" in actions and "kinesis:GetRecords" in actions and "sqs:SendMessage" in actions, actions
    # Every S3 call of the lake store's crash-safe range write (manifest read, stale delete,
    # multipart abort), and ListBucket so a missing manifest reads as 404, not 403.
    for needed in ("s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListBucket"):
        assert needed in actions, (needed, actions)
    assert not any(a.endswith("*") for a in actions), actions
    resources = [r for s in doc["Statement"] for r in s["Resource"]]
    assert f"arn:aws:s3:::{lake}/cdn-logs/*" in resources, resources

    # Lambda: the edge function and its version
    lam = client("lambda")
    edge = lam.get_function(FunctionName=f"{STACK}-edge")["Configuration"]
    assert edge["Runtime"] == "nodejs22.x" and edge["Handler"] == "index.handler", edge
    assert edge["MemorySize"] == 128 and edge["Timeout"] == 5, edge
    assert "Environment" not in edge or not edge["Environment"].get("Variables"), "Lambda@Edge has no environment"
    assert edge["CodeSize"] == edge_path.stat().st_size, (edge["CodeSize"], edge_path.stat().st_size)
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=f"{STACK}-edge")["Versions"]]
    assert "1" in versions, versions

    # Lambda: the ingest function and its event source mapping
    ingest = lam.get_function(FunctionName=f"{STACK}-ingest")["Configuration"]
    assert ingest["Runtime"] == "provided.al2023", ingest
    if ingest["Architectures"] != ["arm64"]:
        # The template says arm64 (golden files); moto's CloudFormation drops Architectures.
        print(f"note: moto ignores Architectures of AWS::Lambda::Function (reports {ingest['Architectures']})")
    assert ingest["Handler"] == "bootstrap", ingest
    env = ingest["Environment"]["Variables"]
    assert env["LAKE"] == f"s3://{lake}/cdn-logs", env
    assert env["FIELDS"] == template["Resources"]["IngestFunction"]["Properties"]["Environment"]["Variables"]["FIELDS"]
    assert len(env["FIELDS"].split(",")) == 69
    mappings = lam.list_event_source_mappings(FunctionName=f"{STACK}-ingest")["EventSourceMappings"]
    assert len(mappings) == 1, mappings
    m = mappings[0]
    assert m["EventSourceArn"] == summary["StreamARN"], m
    # Number parameters may come back as text from moto; compare values.
    for key, want in (("BatchSize", 1000), ("MaximumBatchingWindowInSeconds", 10), ("MaximumRetryAttempts", 10),
                      ("MaximumRecordAgeInSeconds", 86400), ("ParallelizationFactor", 1)):
        assert int(m[key]) == want, (key, m[key])
    assert m["BisectBatchOnFunctionError"] is True, m
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"], m
    assert m["StartingPosition"] == "TRIM_HORIZON", m
    queue_url = ids["IngestFailureQueue"][1]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert m["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn, (m, queue_arn)
    return ids


def main():
    urllib.request.urlopen(urllib.request.Request(f"{ENDPOINT}/moto-api/reset", method="POST")).read()
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        template = json.loads(subprocess.run([CLI, "deploy", "render", "--out", "-"], check=True, capture_output=True, text=True).stdout)
        edge1 = edge_zip(tmp, "1")
        ingest = ingest_zip(tmp)

        # A new stack needs its packages.
        _, err = smd("deploy", "apply", "--stack", STACK, expect=2)
        assert "--edge-zip" in err, err

        # Create.
        report, progress = smd("deploy", "apply", "--stack", STACK, "--edge-zip", str(edge1), "--ingest-zip", str(ingest), "--timeout", "120s")
        assert report["executed"] and report["action"] == "create", report
        assert report["status"] == "CREATE_COMPLETE" and report["ok"], report
        # Every event the server records is printed once, oldest first (moto records stack-level
        # events only; AWS adds one per resource step).
        events = [e for e in client("cloudformation").describe_stack_events(StackName=STACK)["StackEvents"]
                  if e["ResourceStatus"] != "REVIEW_IN_PROGRESS"]  # recorded before execution
        printed = [line for line in progress.splitlines() if STACK in line and ("_IN_PROGRESS" in line or "_COMPLETE" in line or "_FAILED" in line)]
        assert len(printed) == len(events), (printed, len(events))
        assert "CREATE_COMPLETE" in printed[-1], printed
        ids = check_created(template, edge1)
        print(f"ok: apply created stack {STACK}; checked Kinesis, S3, IAM, Lambda, version, event source mapping, SQS")

        # Diff: a configuration change is shown, nothing is executed, the stack stays as it was.
        cfn = client("cloudformation")
        bigger = tmp / "bigger.toml"
        bigger.write_text("[ingest]\nmemory_mb = 2048\nbatch_size = 500\n")
        report, _ = smd("deploy", "diff", "--stack", STACK, "--config", str(bigger))
        assert report["executed"] is False, report
        assert any(c["logical_id"] == "IngestFunction" and c["action"] == "Modify" for c in report["changes"]), report
        stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack["StackStatus"]
        left = [c for c in cfn.list_change_sets(StackName=STACK)["Summaries"] if c.get("ExecutionStatus") != "EXECUTE_COMPLETE"]
        assert left == [], f"diff leaves no change set: {left}"
        mapping = client("lambda").list_event_source_mappings(FunctionName=f"{STACK}-ingest")["EventSourceMappings"][0]
        assert int(mapping["BatchSize"]) == 1000, "diff changed nothing"
        assert client("lambda").get_function(FunctionName=f"{STACK}-ingest")["Configuration"]["MemorySize"] == 1024
        print(f"ok: diff listed {len(report['changes'])} change(s) without executing them")

        # Key rotation: rotate, package, apply -> a new version, the old one kept.
        subprocess.run([CLI, "keys", "rotate", "--keys", str(tmp / "keys.json")], check=True, capture_output=True)
        edge2 = edge_zip(tmp, "2")
        assert edge2.read_bytes() != edge1.read_bytes(), "new keys make a new package"
        report, _ = smd("deploy", "apply", "--stack", STACK, "--edge-zip", str(edge2), "--timeout", "120s")
        assert report.get("status") == "UPDATE_COMPLETE" and report["ok"], report
        import base64
        import hashlib
        edge_fn = client("lambda").get_function(FunctionName=f"{STACK}-edge")["Configuration"]
        want_sha = base64.b64encode(hashlib.sha256(edge2.read_bytes()).digest()).decode()
        assert edge_fn["CodeSha256"] == want_sha, "the function runs the new package"
        assert any(c["logical_id"] == "EdgeFunctionVersion" for c in report["changes"]) or not report["changes"], report
        versions = [v["Version"] for v in client("lambda").list_versions_by_function(FunctionName=f"{STACK}-edge")["Versions"]]
        assert "1" in versions, f"the old version is kept: {versions}"
        # On AWS the new Description of AWS::Lambda::Version replaces it (a new number); moto
        # does not update Version resources, so the version published here is still 1.
        version_arn = client("lambda").get_function(FunctionName=f"{STACK}-edge", Qualifier=versions[-1])["Configuration"]["FunctionArn"]
        print(f"ok: rotated keys, new package s3 key, function code updated; versions {versions}")

        # Attach --apply through moto's CloudFront.
        cf = client("cloudfront")
        dist = cf.create_distribution(DistributionConfig={
            "CallerReference": STACK,
            "Comment": "attach test",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "origin", "DomainName": "origin.example.com",
                                                   "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "origin", "ViewerProtocolPolicy": "redirect-to-https", "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"},
            "CacheBehaviors": {"Quantity": 2, "Items": [
                {"PathPattern": "/out/*", "TargetOriginId": "origin", "ViewerProtocolPolicy": "redirect-to-https", "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"},
                {"PathPattern": "/ads/*", "TargetOriginId": "origin", "ViewerProtocolPolicy": "redirect-to-https", "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"},
            ]},
        })["Distribution"]
        dist_id = dist["Id"]
        etag_before = cf.get_distribution_config(Id=dist_id)["ETag"]
        rt_arn = "arn:aws:cloudfront::123456789012:realtime-log-config/" + STACK + "-cmcd"
        args = ("deploy", "attach", "--distribution-id", dist_id, "--function-version-arn", version_arn,
                "--protect", "/out/*", "--realtime-log-config-arn", rt_arn)
        # --stack reads the ARNs from the stack outputs; moto keeps none, which must be a clear error.
        _, err = smd("deploy", "attach", "--distribution-id", dist_id, "--stack", STACK, expect=2)
        assert "no EdgeFunctionVersionArn output" in err, err
        report, _ = smd(*args)
        assert report["applied"] is False and len(report["changes"]) == 3, report
        assert cf.get_distribution_config(Id=dist_id)["ETag"] == etag_before, "without --apply nothing changes"
        report, _ = smd(*args, "--apply")
        assert report["applied"] is True, report
        after = cf.get_distribution_config(Id=dist_id)
        # (moto accepts any If-Match value and may keep the ETag, so neither is checked here.)
        items = after["DistributionConfig"]["CacheBehaviors"]["Items"]
        assert [b["PathPattern"] for b in items] == ["*/out/*", "/ads/*"], items
        assert all(b["RealtimeLogConfigArn"] == rt_arn for b in items)
        assert after["DistributionConfig"]["DefaultCacheBehavior"]["RealtimeLogConfigArn"] == rt_arn
        fn_change = [c for c in report["changes"] if c["viewer_request"]]
        assert len(fn_change) == 1 and fn_change[0]["viewer_request"]["to"] == version_arn, report
        print("ok: attach --apply changed the path pattern and the real-time log configuration (moto drops Lambda associations)")

        # Delete.
        report, _ = smd("deploy", "delete", "--stack", STACK, "--timeout", "120s")
        assert report["status"] == "DELETE_COMPLETE" and report["ok"], report
        stacks = [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == STACK and s["StackStatus"] != "DELETE_COMPLETE"]
        assert not stacks, stacks
        streams = client("kinesis").list_streams()["StreamNames"]
        assert ids["LogStream"][1] not in streams, streams
        fns = [f["FunctionName"] for f in client("lambda").list_functions()["Functions"]]
        assert f"{STACK}-ingest" not in fns, fns
        report, _ = smd("deploy", "delete", "--stack", STACK)
        assert report["status"] == "DOES_NOT_EXIST", report
        print(f"ok: delete removed stack {STACK}")


if __name__ == "__main__":
    main()
