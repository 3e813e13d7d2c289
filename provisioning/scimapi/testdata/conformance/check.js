// check.js reads the authority's SCIM answers with an independent SCIM
// implementation, SCIMMY (https://github.com/scimmyjs/scimmy, MIT), and
// checks each one against RFC 7643's schemas and RFC 7644's messages.
//
//	node check.js ANSWERS.json
//
// ANSWERS.json is an array of {"step","method","path","status","body"}
// (what provisioning/scimapi's TestConformanceFixtures collects). It exits
// 0 when every answer reads, 1 with the reasons otherwise, 2 on bad use.
//
// What is checked:
//   - a User or Group is coerced by SCIMMY's schema definition (the core
//     schema plus, for User, the enterprise extension and ours): types,
//     required attributes, canonical values, dateTimes; and every attribute
//     we send must be one the schema knows (SCIMMY drops unknown ones
//     silently: the difference is reported);
//   - a ListResponse has the RFC 7644 3.4.2 members with sane numbers, and
//     each resource in it is checked as above;
//   - an error (status 4xx/5xx) is an RFC 7644 3.12 Error message, which
//     SCIMMY's Messages.Error must accept (status and scimType agree);
//   - ServiceProviderConfig and ResourceType by SCIMMY's definitions;
//   - /Schemas: our core User and Group schemas describe each attribute
//     with the same type, multiValued and sub-attributes as SCIMMY's.
//
// SCIMMY only accepts extension ids under urn:ietf:params:scim:schemas:;
// ours (urn:authority:scim:schemas:extension:2.0:User, SPEC section 9) is
// renamed to a stand-in under that prefix before it is coerced.
import {readFileSync} from "node:fs";
import SCIMMY from "scimmy";

const T = SCIMMY.Types;
const USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const OURS = "urn:authority:scim:schemas:extension:2.0:User";
const STANDIN = "urn:ietf:params:scim:schemas:extension:authority:2.0:User";
const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";
const SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RT = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema";

// The core schemas, pristine (for /Schemas), then User with its extensions.
const coreUser = JSON.parse(JSON.stringify(SCIMMY.Schemas.User.definition.describe()));
const coreGroup = JSON.parse(JSON.stringify(SCIMMY.Schemas.Group.definition.describe()));
const userDef = SCIMMY.Schemas.User.definition;
userDef.extend(SCIMMY.Schemas.EnterpriseUser.definition, false);
userDef.extend(new T.SchemaDefinition("AuthorityUser", STANDIN, "The authority server's user attributes", [
    new T.Attribute("string", "orgName"),
    new T.Attribute("string", "employeeType"),
]), false);
const groupDef = SCIMMY.Schemas.Group.definition;

if (process.argv.length !== 3) {
    console.error("usage: node check.js ANSWERS.json");
    process.exit(2);
}
const answers = JSON.parse(readFileSync(process.argv[2], "utf8"));
const problems = [];
let checked = 0;

const isInt = (v) => Number.isInteger(v);

// dropped lists the keys of sent that SCIMMY's coerced form lacks.
function dropped(sent, kept, path = "") {
    const out = [];
    if (sent === null || typeof sent !== "object" || Array.isArray(sent)) return out;
    for (const [k, v] of Object.entries(sent)) {
        if (!(k in (kept ?? {}))) {
            out.push(path + k);
            continue;
        }
        if (Array.isArray(v)) {
            v.forEach((e, i) => out.push(...dropped(e, kept[k]?.[i], `${path}${k}[${i}].`)));
        } else if (v && typeof v === "object") {
            out.push(...dropped(v, kept[k], `${path}${k}.`));
        }
    }
    return out;
}

function checkResource(where, res, wantType) {
    if (!res || typeof res !== "object") {
        problems.push(`${where}: not a resource: ${JSON.stringify(res)}`);
        return;
    }
    const schemas = res.schemas ?? [];
    const isUser = schemas.includes(USER), isGroup = schemas.includes(GROUP);
    if (!isUser && !isGroup) {
        problems.push(`${where}: schemas ${JSON.stringify(schemas)} name neither User nor Group`);
        return;
    }
    const type = isUser ? "User" : "Group";
    if (wantType && type !== wantType) problems.push(`${where}: a ${type} where a ${wantType} was expected`);
    if (typeof res.id !== "string" || res.id === "") problems.push(`${where}: id ${JSON.stringify(res.id)} is not a non-empty string`);
    const meta = res.meta ?? {};
    if (meta.resourceType !== type) problems.push(`${where}: meta.resourceType ${JSON.stringify(meta.resourceType)}, want ${type}`);
    if (typeof meta.location === "string" && !/^https?:\/\/.+\/(Users|Groups)\/[^/]+$/.test(meta.location)) {
        problems.push(`${where}: meta.location ${meta.location} is not the resource's URL`);
    }
    for (const ext of Object.keys(res).filter((k) => k.toLowerCase().startsWith("urn:"))) {
        if (!schemas.includes(ext)) problems.push(`${where}: extension ${ext} is not in schemas`);
    }
    const sent = structuredClone(res);
    if (sent[OURS] !== undefined) {
        sent[STANDIN] = sent[OURS];
        delete sent[OURS];
    }
    sent.schemas = sent.schemas.map((s) => (s === OURS ? STANDIN : s));
    let kept;
    try {
        kept = (isUser ? userDef : groupDef).coerce(sent, "out");
    } catch (e) {
        problems.push(`${where}: SCIMMY refuses the ${type}: ${e.message}`);
        return;
    }
    const lost = dropped(sent, kept).filter((k) => k !== "meta.location" && k !== "meta.version");
    if (lost.length) problems.push(`${where}: attributes the ${type} schema does not know: ${lost.join(", ")}`);
}

function checkList(where, body, wantType) {
    if (!body.schemas?.includes(LIST)) problems.push(`${where}: schemas ${JSON.stringify(body.schemas)} lack ${LIST}`);
    try {
        new SCIMMY.Messages.ListResponse(body);
    } catch (e) {
        problems.push(`${where}: SCIMMY refuses the ListResponse: ${e.message}`);
    }
    const res = body.Resources ?? [];
    if (!isInt(body.totalResults) || body.totalResults < 0) problems.push(`${where}: totalResults ${body.totalResults}`);
    if (!Array.isArray(res)) problems.push(`${where}: Resources is not an array`);
    if (body.itemsPerPage !== undefined && body.itemsPerPage !== res.length) problems.push(`${where}: itemsPerPage ${body.itemsPerPage} but ${res.length} resources`);
    if (body.startIndex !== undefined && (!isInt(body.startIndex) || body.startIndex < 1)) problems.push(`${where}: startIndex ${body.startIndex}`);
    if (res.length > body.totalResults) problems.push(`${where}: ${res.length} resources but totalResults ${body.totalResults}`);
    return res;
}

function checkError(where, status, body) {
    if (!body?.schemas?.includes(ERROR)) {
        problems.push(`${where}: status ${status} without the Error schema: ${JSON.stringify(body)}`);
        return;
    }
    if (String(body.status) !== String(status)) problems.push(`${where}: Error status ${JSON.stringify(body.status)} but HTTP ${status}`);
    if (typeof body.status !== "string") problems.push(`${where}: Error status must be a string (RFC 7644 3.12), got ${JSON.stringify(body.status)}`);
    try {
        new SCIMMY.Messages.Error({status, scimType: body.scimType, detail: body.detail});
    } catch (e) {
        problems.push(`${where}: SCIMMY refuses the Error: ${e.message}`);
    }
}

// sameAttributes compares our description of a schema's attributes with SCIMMY's.
function sameAttributes(where, ours, theirs) {
    const byName = new Map((ours ?? []).map((a) => [a.name.toLowerCase(), a]));
    for (const a of theirs) {
        const o = byName.get(a.name.toLowerCase());
        if (!o) continue; // an attribute we do not offer
        if (o.type !== a.type) problems.push(`${where}.${a.name}: type ${o.type}, RFC 7643 says ${a.type}`);
        if (Boolean(o.multiValued) !== Boolean(a.multiValued)) problems.push(`${where}.${a.name}: multiValued ${o.multiValued}, RFC 7643 says ${a.multiValued}`);
        if (a.subAttributes) sameAttributes(`${where}.${a.name}`, o.subAttributes, a.subAttributes);
    }
}

function checkSchemas(where, body) {
    for (const s of checkList(where, body)) {
        if (!s.schemas?.includes(SCHEMA)) problems.push(`${where}: ${s.id}: schemas ${JSON.stringify(s.schemas)} lack ${SCHEMA}`);
        if (!Array.isArray(s.attributes)) problems.push(`${where}: ${s.id}: no attributes`);
        if (s.id === USER) sameAttributes(`${where} User`, s.attributes, coreUser.attributes);
        if (s.id === GROUP) sameAttributes(`${where} Group`, s.attributes, coreGroup.attributes);
    }
}

for (const a of answers) {
    const where = `${a.step}: ${a.method} ${a.path} (${a.status})`;
    const body = a.body;
    checked++;
    if (a.status === 204) {
        if (body !== null && body !== "") problems.push(`${where}: 204 with a body`);
        continue;
    }
    if (a.status >= 400) {
        checkError(where, a.status, body);
        continue;
    }
    if (body === null || typeof body !== "object") {
        problems.push(`${where}: no JSON object`);
        continue;
    }
    const path = a.path.split("?")[0];
    if (path === "/ServiceProviderConfig") {
        try {
            SCIMMY.Schemas.ServiceProviderConfig.definition.coerce(body, "out");
        } catch (e) {
            problems.push(`${where}: SCIMMY refuses the ServiceProviderConfig: ${e.message}`);
        }
        if (!body.schemas?.includes(SPC)) problems.push(`${where}: schemas lack ${SPC}`);
    } else if (path.startsWith("/ResourceTypes")) {
        const list = path === "/ResourceTypes" ? checkList(where, body) : [body];
        for (const r of list) {
            try {
                SCIMMY.Schemas.ResourceType.definition.coerce(r, "out");
            } catch (e) {
                problems.push(`${where}: SCIMMY refuses ResourceType ${r.name}: ${e.message}`);
            }
            if (!r.schemas?.includes(RT)) problems.push(`${where}: ${r.name}: schemas lack ${RT}`);
        }
    } else if (path.startsWith("/Schemas")) {
        if (path === "/Schemas") checkSchemas(where, body);
        else checkSchemas(where, {schemas: [LIST], totalResults: 1, Resources: [body]});
    } else {
        const kind = path.startsWith("/Users") ? "User" : path.startsWith("/Groups") ? "Group" : undefined;
        if (body.schemas?.includes(LIST)) {
            checkList(where, body).forEach((r, i) => checkResource(`${where} Resources[${i}]`, r, kind));
        } else {
            checkResource(where, body, kind);
        }
    }
}

if (problems.length) {
    console.error(`${problems.length} problem(s) in ${checked} answers:`);
    for (const p of problems) console.error("- " + p);
    process.exit(1);
}
console.log(`ok: ${checked} answers read by SCIMMY ${JSON.parse(readFileSync(new URL("node_modules/scimmy/package.json", import.meta.url))).version}`);
