package script

// The vendor's documented example scripts, in their corrected, working form
// (the printed versions lost closing braces, and the role example used
// memberof without declaring it).

const uacScript = `function(entry) {
  return !(entry.userAccountControl & 0x2);
}`

const employeeTypeScript = `function(entry) { return entry.employeeType !="inactive" }`

const orgScript = `function(entry) {
   var ou = entry.dn;
   if (ou != null){
       if ((ou.indexOf("Staff") >= 0 )){
           return 'Staff';
       }
       else if ((ou.indexOf("Students") >= 0 )){
           return 'Students';
       }
       else {
           return 'Default';
       }
   }
   else {
       return 'Default';
   }
}`

// roleScriptOrg grants org-level roles from group membership.
const roleScriptOrg = `function (entry) {
    // Default user roles
    var myRoles = new Array("PROe User", "Desktop User");
    var memberof = entry.memberOf;
    if (memberof == null) {
        return myRoles;
    }
    // Loop over LDAP groups
    for (var x = 0; x < memberof.length; ++x) {
        var group = memberof[x].toLowerCase();
        if (group.indexOf("cn=security") > -1) {
            myRoles.push("Org Security Viewer");
        }
        if (group.indexOf("cn=support") > -1) {
            myRoles.push("Org Help Desk");
        }
        if (group.indexOf("cn=managers") > -1) {
            myRoles.push("Org Manager");
        }
        if (group.indexOf("cn=orgadmins") > -1) {
            myRoles.push("Org Admin");
        }
    }
    return myRoles;
}`

// roleScriptSys is the vendor's SYSADMIN example, corrected.
const roleScriptSys = `function (entry) {
    // Default user roles
    var myRoles=new Array("PROe User","Desktop User");
    if (entry.memberOf == null) {
        return myRoles;
    }
    var memberof = entry.memberOf;
    // Loop over LDAP groups
    for (var x = 0; x < memberof.length; ++x) {
        if (memberof[x].indexOf("WorkstationAdmins") > -1) {
            myRoles.push("Server Administrator");
        } else if (memberof[x].indexOf("Admins") > -1) {
            myRoles.push("SYSADMIN");
        }
        if (memberof[x].indexOf("Support") > -1) {
            myRoles.push("All Org Admin");
        }
        if (memberof[x].indexOf("Managers") > -1) {
            myRoles.push("All Org Manager");
        }
    }
    return myRoles;
}`
