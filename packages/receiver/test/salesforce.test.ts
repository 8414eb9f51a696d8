import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { type WebhookErrorCode, WebhookVerificationError } from '../src/errors.ts';
import {
  buildSalesforceOutboundMessage,
  parseSalesforceOutboundMessage,
  type SalesforceOutboundMessageInput,
  salesforceAck,
} from '../src/schemes/salesforce.ts';
import { sign } from '../src/sign.ts';
import { verify } from '../src/verify.ts';

function assertCode(run: () => unknown, code: WebhookErrorCode): WebhookVerificationError {
  let caught: unknown;
  assert.throws(run, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(
    caught instanceof WebhookVerificationError,
    `expected WebhookVerificationError, got ${String(caught)}`,
  );
  assert.equal(caught.code, code, caught.message);
  return caught;
}

const ORG_18 = '00D5g000004XyZaEAK';
const ORG_15 = ORG_18.slice(0, 15);

// Shaped like a real Outbound Message (Setup → Outbound Messages → "View Message Definition"):
// soapenv/xsi/xsd prefixes on the envelope, a default namespace on <notifications>, sf: on the
// record fields, xsi:nil for empty fields, entities in values.
const ENVELOPE = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>${ORG_18}</OrganizationId>
   <ActionId>04k5g000000KzQmAAK</ActionId>
   <SessionId>00D5g000004XyZa!AQ4AQFakeSession</SessionId>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D5g000004XyZa</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D5g000004XyZa</PartnerUrl>
   <Notification>
    <Id>04l5g00000AbCdEAAX</Id>
    <sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0015g00000QxYzAAAA</sf:Id>
     <sf:AnnualRevenue>1.5E7</sf:AnnualRevenue>
     <sf:Name>Acme &amp; Sons &lt;EMEA&gt;</sf:Name>
     <sf:NumberOfEmployees>0042</sf:NumberOfEmployees>
     <sf:Phone xsi:nil="true"/>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l5g00000AbCdFAAX</Id>
    <sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>0015g00000QxZ0AAAA</sf:Id>
     <sf:AnnualRevenue xsi:nil="true"/>
     <sf:Name>  Globex  </sf:Name>
     <sf:NumberOfEmployees>7</sf:NumberOfEmployees>
     <sf:Phone>+1 555 0100</sf:Phone>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l5g00000AbCdGAAX</Id>
    <sObject xsi:type="sf:Invoice__c" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>a015g00000XyZ12AAB</sf:Id>
     <sf:Amount__c>99.50</sf:Amount__c>
     <sf:Notes__c></sf:Notes__c>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>`;

describe('parseSalesforceOutboundMessage', () => {
  test('a three-notification envelope: ids, types without sf:, fields as text, xsi:nil as null', () => {
    const message = parseSalesforceOutboundMessage(Buffer.from(ENVELOPE));
    assert.deepEqual(message, {
      organizationId: ORG_18,
      actionId: '04k5g000000KzQmAAK',
      sessionId: '00D5g000004XyZa!AQ4AQFakeSession',
      enterpriseUrl: 'https://acme.my.salesforce.com/services/Soap/c/62.0/00D5g000004XyZa',
      partnerUrl: 'https://acme.my.salesforce.com/services/Soap/u/62.0/00D5g000004XyZa',
      notifications: [
        {
          id: '04l5g00000AbCdEAAX',
          sObject: {
            type: 'Account',
            id: '0015g00000QxYzAAAA',
            fields: {
              Id: '0015g00000QxYzAAAA',
              AnnualRevenue: '1.5E7',
              Name: 'Acme & Sons <EMEA>',
              NumberOfEmployees: '0042',
              Phone: null,
            },
          },
        },
        {
          id: '04l5g00000AbCdFAAX',
          sObject: {
            type: 'Account',
            id: '0015g00000QxZ0AAAA',
            fields: {
              Id: '0015g00000QxZ0AAAA',
              AnnualRevenue: null,
              Name: '  Globex  ',
              NumberOfEmployees: '7',
              Phone: '+1 555 0100',
            },
          },
        },
        {
          id: '04l5g00000AbCdGAAX',
          sObject: {
            type: 'Invoice__c',
            id: 'a015g00000XyZ12AAB',
            fields: { Id: 'a015g00000XyZ12AAB', Amount__c: '99.50', Notes__c: '' },
          },
        },
      ],
    });
  });

  test('one notification, other prefixes, no session id', () => {
    const body = `<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"><s:Body><o:notifications xmlns:o="http://soap.sforce.com/2005/09/outbound"><o:OrganizationId>${ORG_18}</o:OrganizationId><o:ActionId>04k5g000000KzQmAAK</o:ActionId><o:SessionId i:nil="true"/><o:EnterpriseUrl>https://e</o:EnterpriseUrl><o:PartnerUrl>https://p</o:PartnerUrl><o:Notification><o:Id>04l1</o:Id><o:sObject i:type="x:Lead" xmlns:x="urn:sobject.enterprise.soap.sforce.com"><x:Id>00Q1</x:Id><x:Email>a@b.example</x:Email></o:sObject></o:Notification></o:notifications></s:Body></s:Envelope>`;
    const message = parseSalesforceOutboundMessage(body);
    assert.equal(message.sessionId, null);
    assert.equal(message.notifications.length, 1);
    assert.deepEqual(message.notifications[0], {
      id: '04l1',
      sObject: { type: 'Lead', id: '00Q1', fields: { Id: '00Q1', Email: 'a@b.example' } },
    });
  });

  test('not an outbound message -> malformed_body', () => {
    for (const body of [
      'not xml at all',
      '<a><b></a>',
      '{"OrganizationId":"00D"}',
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>',
      ENVELOPE.replace(/<Notification>[\s\S]*<\/Notification>/, ''),
      ENVELOPE.replace(/<OrganizationId>.*<\/OrganizationId>/, ''),
      ENVELOPE.replace(' xsi:type="sf:Invoice__c"', ''),
      `<!DOCTYPE x [<!ENTITY a "aaaa">]>${ENVELOPE.replace('<?xml version="1.0" encoding="UTF-8"?>\n', '')}`,
      '',
    ]) {
      const error = assertCode(() => parseSalesforceOutboundMessage(body), 'malformed_body');
      assert.equal(error.status, 400);
    }
  });
});

describe('salesforce scheme', () => {
  test('the configured org id (15 or 18 characters) matches the envelope', () => {
    for (const secret of [ORG_18, ORG_15]) {
      const result = verify({ scheme: 'salesforce', body: ENVELOPE, headers: {}, secret });
      assert.equal(result.matchedSecretIndex, 0);
      assert.equal(result.id, undefined);
      assert.equal(result.timestamp, undefined);
    }
    // Rotation-style lists work too (e.g. a sandbox and production org).
    const other = '00D000000000001AAA';
    assert.equal(
      verify({ scheme: 'salesforce', body: ENVELOPE, headers: {}, secret: [other, ORG_15] })
        .matchedSecretIndex,
      1,
    );
    // A 15-character id in the envelope matches the configured 18-character one.
    assert.ok(
      verify({ scheme: 'salesforce', body: ENVELOPE.replace(ORG_18, ORG_15), headers: {}, secret: ORG_18 }),
    );
  });

  test('wrong org id -> no_matching_signature, saying there is no signature', () => {
    for (const secret of ['00D5g000004XyZb', '00D5g000004XyZbEAK', ORG_15.toLowerCase(), `${ORG_15}AAA`]) {
      const error = assertCode(
        () => verify({ scheme: 'salesforce', body: ENVELOPE, headers: {}, secret }),
        'no_matching_signature',
      );
      assert.match(error.message, /OrganizationId/);
    }
  });

  test('garbage XML -> malformed_body; a bad org id secret -> invalid_secret', () => {
    assertCode(
      () => verify({ scheme: 'salesforce', body: '<oops', headers: {}, secret: ORG_18 }),
      'malformed_body',
    );
    for (const secret of ['', '00D5g', `${ORG_18}X`, '00D5g000004XyZ!']) {
      assertCode(
        () => verify({ scheme: 'salesforce', body: ENVELOPE, headers: {}, secret }),
        'invalid_secret',
      );
    }
  });

  test('sign() emits only the SOAP headers', () => {
    assert.deepEqual(sign({ scheme: 'salesforce', body: ENVELOPE, secret: ORG_18 }).headers, {
      'Content-Type': 'text/xml; charset=utf-8',
      SOAPAction: '""',
    });
  });
});

describe('salesforceAck and buildSalesforceOutboundMessage', () => {
  test('the ack is a notificationsResponse in the outbound namespace with <Ack>true</Ack>', () => {
    const xml = salesforceAck();
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
    const parsed = new XMLParser({ ignoreAttributes: false, parseTagValue: false }).parse(xml);
    assert.deepEqual(parsed['soapenv:Envelope']['soapenv:Body'], {
      notificationsResponse: { Ack: 'true', '@_xmlns': 'http://soap.sforce.com/2005/09/outbound' },
    });
    assert.equal(parsed['soapenv:Envelope']['@_xmlns:soapenv'], 'http://schemas.xmlsoap.org/soap/envelope/');
    assert.match(salesforceAck(false), /<Ack>false<\/Ack>/);
  });

  test('a built envelope parses back to its input and verifies', () => {
    const notifications: SalesforceOutboundMessageInput['notifications'] = [
      {
        id: '04l5g00000AbCdEAAX',
        sObject: {
          type: 'Opportunity',
          id: '0065g00000AbCdEAAX',
          fields: { Name: 'Big deal "Q3" & more', Amount: '1000.00', CloseDate: null, Description: '' },
        },
      },
      {
        id: '04l5g00000AbCdFAAX',
        sObject: { type: 'Case', fields: { Id: '5005g00000AbCdEAAX', Subject: '<urgent>' } },
      },
    ];
    const xml = buildSalesforceOutboundMessage({ organizationId: ORG_18, sessionId: null, notifications });
    const message = parseSalesforceOutboundMessage(xml);
    assert.equal(message.organizationId, ORG_18);
    assert.equal(message.sessionId, null);
    assert.match(message.enterpriseUrl ?? '', /\/services\/Soap\/c\//);
    assert.deepEqual(message.notifications, [
      {
        id: '04l5g00000AbCdEAAX',
        sObject: {
          type: 'Opportunity',
          id: '0065g00000AbCdEAAX',
          fields: {
            Id: '0065g00000AbCdEAAX',
            Name: 'Big deal "Q3" & more',
            Amount: '1000.00',
            CloseDate: null,
            Description: '',
          },
        },
      },
      {
        id: '04l5g00000AbCdFAAX',
        sObject: {
          type: 'Case',
          id: '5005g00000AbCdEAAX',
          fields: { Id: '5005g00000AbCdEAAX', Subject: '<urgent>' },
        },
      },
    ]);
    assert.ok(verify({ scheme: 'salesforce', body: xml, headers: {}, secret: ORG_15 }));
  });
});
