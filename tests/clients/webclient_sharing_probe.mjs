// Sharing NG as ownCloud Web's own API client (@ownclouders/web-client 12) drives it.
// Usage (in a folder with `npm install @ownclouders/web-client@12 axios`):
//   node webclient_sharing_probe.mjs BASE DRIVE_ID FOLDER_ITEM_ID SHARER:PASS RECIPIENT:PASS RECIPIENT_ID
// Prints one "OK   <step> <detail>" or "ERR  <step> <message>" line per step and a last line
// "probe: <n> ok, <m> errors".
import axios from "axios";
import { graph, buildIncomingShareResource, buildOutgoingShareResource } from "@ownclouders/web-client";

const [base, driveId, itemId, sharer, recipient, recipientId] = process.argv.slice(2);
const client = (creds) => graph(base, axios.create({
  headers: { Authorization: "Basic " + Buffer.from(creds).toString("base64") },
}));
const g = client(sharer), r = client(recipient);
let ok = 0, errors = 0;
const state = {};

async function step(name, fn) {
  try {
    const detail = await fn();
    ok += 1;
    console.log("OK  ", name, detail === undefined ? "" : JSON.stringify(detail).slice(0, 300));
  } catch (e) {
    errors += 1;
    const body = e.response ? ` ${e.response.status} ${JSON.stringify(e.response.data).slice(0, 200)}` : "";
    console.log("ERR ", name, e.message + body);
  }
}

function expect(cond, what) {
  if (!cond) throw new Error("expectation failed: " + what);
}

await step("listRoleDefinitions", async () => {
  const defs = await g.permissions.listRoleDefinitions();
  expect(defs.length > 0 && defs.every((d) => d.id && d.rolePermissions), "role definitions");
  state.graphRoles = Object.fromEntries(defs.map((d) => [d.id, d]));
  state.viewer = defs.find((d) => d.id === "b1e2218d-eef8-4d4c-b82d-0f1a1b48f3b5");
  state.editor = defs.find((d) => d.id === "fb6c3e19-e378-47e5-b277-9732f9de6e21");
  return defs.map((d) => d.displayName);
});
await step("createInvite", async () => {
  const share = await g.permissions.createInvite(driveId, itemId, {
    recipients: [{ objectId: recipientId, "@libre.graph.recipient.type": "user" }],
    roles: [state.viewer.id],
  }, state.graphRoles);
  expect(share.id && share.sharedWith && share.role, "collaborator share");
  state.shareId = share.id;
  return { id: share.id, role: share.role && share.role.id, sharedWith: share.sharedWith };
});
await step("listPermissions", async () => {
  const res = await g.permissions.listPermissions(driveId, itemId, state.graphRoles);
  expect(res.shares.some((s) => s.id === state.shareId), "the share is listed");
  expect(res.allowedRoles.some((role) => role.id === state.editor.id), "editor offered on a folder");
  return { shares: res.shares.length, roles: res.allowedRoles.map((x) => x.id) };
});
await step("getPermission", async () => {
  const share = await g.permissions.getPermission(driveId, itemId, state.shareId, state.graphRoles);
  expect(share.id === state.shareId, "same share");
});
await step("updatePermission", async () => {
  const share = await g.permissions.updatePermission(driveId, itemId, state.shareId,
    { roles: [state.editor.id] }, state.graphRoles);
  expect(share.role && share.role.id === state.editor.id, "role changed");
});
await step("createLink", async () => {
  const link = await g.permissions.createLink(driveId, itemId, { type: "view", password: "Secret123!" });
  expect(link.webUrl && link.webUrl.includes("/s/") && link.hasPassword, "link share");
  state.linkId = link.id;
  return { type: link.type, webUrl: link.webUrl };
});
await step("setPermissionPassword", async () => {
  const link = await g.permissions.setPermissionPassword(driveId, itemId, state.linkId,
    { password: "Other456!" });
  expect(link.hasPassword, "still protected");
});
await step("listSharedByMe", async () => {
  const items = await g.driveItems.listSharedByMe();
  expect(items.length === 1, "one shared item");
  const res = buildOutgoingShareResource({ driveItem: items[0], user: { id: "x" }, serverUrl: base });
  expect(res.path === "/probe", "path of the shared folder: " + res.path);
  return { name: res.name, path: res.path, sharedWith: res.sharedWith };
});
await step("listSharedWithMe", async () => {
  const items = await r.driveItems.listSharedWithMe();
  expect(items.length === 1 && items[0]["@client.synchronize"] === true, "one mounted share");
  state.jailItem = items[0];
  const res = buildIncomingShareResource({ driveItem: items[0], graphRoles: state.graphRoles, serverUrl: base });
  expect(res.canDownload() && res.canUpload() && res.spaceId === driveId, "an editor's share");
  return { name: res.name, syncEnabled: res.syncEnabled, actions: res.sharePermissions };
});
await step("listMyDrives (recipient)", async () => {
  const drives = await r.drives.listMyDrives();
  expect(drives.some((d) => d.driveType === "virtual"), "the share jail");
  expect(drives.some((d) => d.driveType === "mountpoint"), "the mounted share");
  return drives.map((d) => d.driveType);
});
await step("deleteDriveItem (unmount)", async () => {
  const jail = state.jailItem.parentReference.driveId;
  await r.driveItems.deleteDriveItem(jail, state.jailItem.id);
  const items = await r.driveItems.listSharedWithMe();
  expect(items[0]["@client.synchronize"] === false, "unmounted");
});
await step("createDriveItem (mount)", async () => {
  const jail = state.jailItem.parentReference.driveId;
  const item = await r.driveItems.createDriveItem(jail, {
    name: state.jailItem.name, remoteItem: { id: state.jailItem.remoteItem.id },
  });
  expect(item["@client.synchronize"] === true, "mounted again");
});
await step("updateDriveItem (hide)", async () => {
  const jail = state.jailItem.parentReference.driveId;
  const item = await r.driveItems.updateDriveItem(jail, state.jailItem.id, { "@UI.Hidden": true });
  expect(item["@UI.Hidden"] === true, "hidden");
});
await step("deletePermission", async () => {
  await g.permissions.deletePermission(driveId, itemId, state.shareId);
  await g.permissions.deletePermission(driveId, itemId, state.linkId);
  const res = await g.permissions.listPermissions(driveId, itemId, state.graphRoles);
  expect(res.shares.length === 0, "nothing left");
});
console.log(`probe: ${ok} ok, ${errors} errors`);
